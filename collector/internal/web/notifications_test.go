package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// acmePolicy is Acme's notification policy in these tests: the engineer
// gets the digest and the level 3 alerts, which are mandatory.
func acmePolicy(o *Options) {
	p, err := notify.Settings{Recipients: []string{"eng@acme.test"}, AlertLevel3: []string{"Eng <ENG@acme.test>"},
		Mandatory: []string{"alert"}}.Compile()
	if err != nil {
		panic(err)
	}
	p.TenantID = "t-acme"
	o.NotifyPolicies = notify.Policies{p}
}

// TestOwnPreferences: a signed-in user opens their own preferences
// without a link, in their tenant, and saves them with the session's
// CSRF token; the mandatory list stays as it is, and nothing of another
// recipient changes.
func TestOwnPreferences(t *testing.T) {
	f := newFixture(t, acmePolicy)
	c := f.client()
	if r := c.get("/ui/notifications"); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/ui/signin") {
		t.Fatalf("signed out, without a link: %d %s, want a redirect to sign-in", r.status, r.header.Get("Location"))
	}
	c.signIn("eng@acme.test")
	r := c.get("/ui/notifications")
	if r.status != http.StatusOK {
		t.Fatalf("own preferences: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{"eng@acme.test", "Acme Corp", "These are your own preferences", "required by the tenant's policy", `id="list-alert" checked disabled`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("own preferences page lacks %q", want)
		}
	}
	if i := strings.Index(r.body, `id="list-digest"`); i < 0 {
		t.Error("own preferences page lacks the digest's box")
	} else if field := r.body[i:]; strings.Contains(field[:strings.Index(field+"</label>", "</label>")], "not sent to this address now") {
		t.Error("the digest shows as not sent to its recipient")
	}
	// Without the session's CSRF token nothing is saved.
	if r := c.post("/ui/notifications", url.Values{reporter.FieldCSRF: {"wrong"}, "list": {"summary"}}); r.status != http.StatusForbidden {
		t.Errorf("save without the CSRF token: %d, want 403", r.status)
	}
	// Untick the digest (the form sends only the ticked lists; the
	// disabled mandatory one is not sent).
	r = c.post("/ui/notifications", url.Values{"list": {"summary"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "saved=1") {
		t.Fatalf("save: %d %s", r.status, r.header.Get("Location"))
	}
	prefs, err := f.st.NotifyPrefs(t.Context(), "t-acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(prefs) != 1 || prefs[0].Recipient != "eng@acme.test" || prefs[0].List != store.ListDigest || prefs[0].Enabled ||
		prefs[0].Source != "eng@acme.test" {
		t.Errorf("stored %+v; want the digest left and the mandatory alerts untouched", prefs)
	}
	if r := c.get(r.header.Get("Location")); !strings.Contains(r.body, "Your preferences are saved") || strings.Contains(r.body, `id="list-digest" checked`) {
		t.Errorf("after saving the page does not show the choice")
	}
}

// TestUnsubscribeLink: a link token's page asks before unsubscribing (a
// mail scanner that opens the link changes nothing), its button or a mail
// client's one-click POST unsubscribes and answers 200, and a mandatory
// list is said to stay.
func TestUnsubscribeLink(t *testing.T) {
	f := newFixture(t, acmePolicy)
	signer, err := notify.SignerFromStore(t.Context(), f.st)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client()
	digest := signer.Sign(notify.Subscription{TenantID: "t-acme", Recipient: "eng@acme.test", List: store.ListDigest})
	r := c.get("/ui/notifications/unsubscribe?t=" + digest)
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="unsubscribe"`) || !strings.Contains(r.body, "Stop sending the Digest") {
		t.Fatalf("confirmation page: %d\n%s", r.status, r.body)
	}
	if prefs, _ := f.st.NotifyPrefs(t.Context(), "t-acme", ""); len(prefs) != 0 {
		t.Fatalf("opening the link stored %+v", prefs)
	}
	r = c.do(http.MethodPost, "/ui/notifications/unsubscribe?t="+digest, url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "no longer gets the Digest") {
		t.Fatalf("one-click: %d\n%s", r.status, r.body)
	}
	alert := signer.Sign(notify.Subscription{TenantID: "t-acme", Recipient: "eng@acme.test", List: store.ListAlert})
	r = c.do(http.MethodPost, "/ui/notifications/unsubscribe?t="+alert, url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "requires this list, so it is still sent") {
		t.Errorf("one-click on a mandatory list: %d\n%s", r.status, r.body)
	}
	// A link of another tenant's recipient opens only that recipient's
	// page, whoever is signed in.
	c.signIn("ops@globex.test")
	r = c.get("/ui/notifications?t=" + digest)
	if r.status != http.StatusOK || !strings.Contains(r.body, "eng@acme.test") || strings.Contains(r.body, "ops@globex.test\">") {
		t.Errorf("link page while signed in as another: %d", r.status)
	}
}
