package notify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func TestSignerRoundTrip(t *testing.T) {
	s, err := NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sub := Subscription{TenantID: "t-acme", Recipient: "Ops@Acme.example", List: store.ListSummary}
	tok := s.Sign(sub)
	if strings.ContainsAny(tok, "+/=?&") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	got, err := s.Verify(tok)
	want := Subscription{TenantID: "t-acme", Recipient: "ops@acme.example", List: store.ListSummary}
	if err != nil || got != want {
		t.Errorf("Verify = %+v, %v; want %+v", got, err, want)
	}
	if !s.CheckFormToken(tok, s.FormToken(tok)) {
		t.Error("the form value of a token does not check")
	}
	other := s.Sign(Subscription{TenantID: "t-acme", Recipient: "lead@acme.example", List: store.ListSummary})
	if s.CheckFormToken(other, s.FormToken(tok)) || s.CheckFormToken(tok, "") || s.CheckFormToken("", s.FormToken("")) {
		t.Error("a form value checks for another token")
	}
}

func TestSignerRefusesForgeries(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, _ := NewSigner(key)
	tok := s.Sign(Subscription{TenantID: "t-acme", Recipient: "ops@acme.example", List: store.ListDigest})
	payload, mac, _ := strings.Cut(tok, ".")
	enc := base64.RawURLEncoding
	otherKey, _ := NewSigner(bytes.Repeat([]byte{8}, 32))
	for name, forged := range map[string]string{
		"other recipient": enc.EncodeToString([]byte("t-acme\nboss@acme.example\ndigest")) + "." + mac,
		"other tenant":    enc.EncodeToString([]byte("t-globex\nops@acme.example\ndigest")) + "." + mac,
		"truncated MAC":   payload + "." + mac[:len(mac)-2],
		"other key":       otherKey.Sign(Subscription{TenantID: "t-acme", Recipient: "ops@acme.example", List: store.ListDigest}),
		"unknown list":    enc.EncodeToString([]byte("t-acme\nops@acme.example\nall")) + "." + enc.EncodeToString(s.mac("link", "t-acme\nops@acme.example\nall")),
		"no separator":    payload + mac,
		"empty":           "",
	} {
		t.Run(name, func(t *testing.T) {
			if sub, err := s.Verify(forged); !errors.Is(err, ErrBadToken) {
				t.Errorf("Verify(%q) = %+v, %v; want ErrBadToken", forged, sub, err)
			}
		})
	}
	if _, err := NewSigner(key[:31]); err == nil {
		t.Error("a 31-byte key was taken")
	}
}

// TestRecipientsChoose: each recipient of a planned email gets a message
// of their own; one who left the list gets none, unless the tenant made
// the list mandatory.
func TestRecipientsChoose(t *testing.T) {
	for _, tt := range []struct {
		name      string
		mandatory []string
		want      []string
	}{
		{"opted out", nil, []string{"ops@acme.example"}},
		{"mandatory", []string{"alert"}, []string{"boss@acme.example", "ops@acme.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Settings{AlertLevel3: []string{"ops@acme.example", "Boss <Boss@Acme.example>"}, Mandatory: tt.mandatory})
			if err := e.store.SetNotifyPref(t.Context(), store.NotifyPref{TenantID: e.tenant.ID, Recipient: "boss@acme.example",
				List: store.ListAlert, UpdatedAt: T}); err != nil {
				t.Fatal(err)
			}
			e.changes.Add(e.tenant.ID, chg("web01", "file:/etc/sudoers", 3, T))
			n := e.notifier("c", e.store, nil)
			e.clock.Set(T.Add(Level3Hold + Settle + time.Second))
			e.tick(n)
			got := e.srv.waitFor(len(tt.want))
			var to []string
			for _, r := range got {
				if len(r.To) != 1 {
					t.Fatalf("a message went to %v", r.To)
				}
				to = append(to, strings.ToLower(r.To[0]))
			}
			if strings.Join(slices.Sorted(slices.Values(to)), ",") != strings.Join(tt.want, ",") {
				t.Errorf("messages to %v, want %v", to, tt.want)
			}
			if es := e.emails(); len(es) != len(tt.want) {
				t.Errorf("outbox holds %d messages, want %d", len(es), len(tt.want))
			}
		})
	}
}

func TestRecipientKey(t *testing.T) {
	if k := RecipientKey("digest/2026-W45", "ops@acme.example"); k != "digest/2026-W45/to/ops@acme.example" {
		t.Errorf("key %q", k)
	}
	long := strings.Repeat("x", store.MaxDedupeKey)
	a, b := RecipientKey(long, "a@example.com"), RecipientKey(long, "b@example.com")
	if len(a) > store.MaxDedupeKey || len(b) > store.MaxDedupeKey || a == b {
		t.Errorf("long keys %d and %d bytes, equal %v", len(a), len(b), a == b)
	}
}
