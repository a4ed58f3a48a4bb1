package collector

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// chromiumPath returns the path of Chromium; without it the test fails under
// CI=true and is skipped otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium is not installed (apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure", msg)
	}
	t.Skipf("%s; skipping (under CI=true this fails)", msg)
	return ""
}

// artifactsDir returns the directory test artefacts go to:
// $DRIFTWATCH_ARTIFACTS, or a temporary one.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DRIFTWATCH_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mailPageFacts are what the test reads of the rendered email.
type mailPageFacts struct {
	Title string `json:"title"`
	// ScrollWidth is the width of the whole page, wider than the viewport
	// when something does not fit.
	ScrollWidth int `json:"scrollWidth"`
	// CardWidth is the width of the email's card.
	CardWidth float64 `json:"cardWidth"`
	// Resources counts what the page loaded besides itself.
	Resources int    `json:"resources"`
	Text      string `json:"text"`
	// BadgeColor is the computed background of the first level badge.
	BadgeColor string `json:"badgeColor"`
}

// TestDigestHTMLInChromium renders the HTML part of a sent digest in
// headless Chromium, on a desktop and a phone screen, and keeps a
// screenshot of each as a test artefact: the inline styles apply, the
// card keeps its width and fits a phone without sideways scrolling,
// nothing is loaded from elsewhere.
func TestDigestHTMLInChromium(t *testing.T) {
	bin := chromiumPath(t)
	_, m := sendTestDigest(t)
	p := parseMail(t, m.Data)
	dir := artifactsDir(t)
	page := filepath.Join(dir, "digest.html")
	if err := os.WriteFile(page, []byte(p.HTML), 0o644); err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()

	for _, screen := range []struct {
		name  string
		width int64
		card  float64 // the card's width
	}{
		{"desktop", 1024, 640},
		{"phone", 390, 0}, // narrower than 640: the card shrinks to fit
	} {
		t.Run(screen.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(screen.width, 800), chromedp.Navigate("file://"+page)); err != nil {
				t.Fatalf("render in Chromium: %v", err)
			}
			facts, err := chromedp.Run(ctx, chromedp.Evaluate[mailPageFacts](`({
				title: document.title,
				scrollWidth: document.documentElement.scrollWidth,
				cardWidth: document.querySelector("table table").getBoundingClientRect().width,
				resources: performance.getEntriesByType("resource").length,
				text: document.body.innerText,
				badgeColor: getComputedStyle(document.querySelector("span[style*='border-radius']")).backgroundColor,
			})`))
			if err != nil {
				t.Fatal(err)
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "digest-"+screen.name+".png")
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)

			if facts.Title != "This week in changes" {
				t.Errorf("title %q", facts.Title)
			}
			for _, want := range []string{"web-01", "file:/etc/ssh/sshd_config", "+PermitRootLogin yes", "CHG-1042", "change success rate"} {
				if !strings.Contains(facts.Text, want) {
					t.Errorf("the rendered page does not show %q", want)
				}
			}
			if facts.Resources != 0 {
				t.Errorf("the page loaded %d resources; an email must load nothing", facts.Resources)
			}
			if facts.ScrollWidth > int(screen.width) {
				t.Errorf("the page is %dpx wide on a %dpx screen: it scrolls sideways", facts.ScrollWidth, screen.width)
			}
			if screen.card > 0 && facts.CardWidth != screen.card {
				t.Errorf("the card is %.0fpx wide, want %.0fpx", facts.CardWidth, screen.card)
			}
			if screen.card == 0 && facts.CardWidth > float64(screen.width) {
				t.Errorf("the card is %.0fpx wide on a %dpx screen", facts.CardWidth, screen.width)
			}
			// The level 3 badge is the first: its red came from an inline
			// style, and shows in the screenshot.
			if facts.BadgeColor != "rgb(183, 28, 28)" {
				t.Errorf("level 3 badge background %s, want the inline style's rgb(183, 28, 28)", facts.BadgeColor)
			}
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if w := img.Bounds().Dx(); w != int(screen.width) {
				t.Errorf("screenshot %dpx wide, want %d", w, screen.width)
			}
			if !screenshotHasColor(img, 0xb7, 0x1c, 0x1c) {
				t.Error("the screenshot shows no level 3 red")
			}
		})
	}
}

// screenshotHasColor reports whether some pixel of img has the colour r, g, b.
func screenshotHasColor(img image.Image, r, g, b uint8) bool {
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if uint8(pr>>8) == r && uint8(pg>>8) == g && uint8(pb>>8) == b {
				return true
			}
		}
	}
	return false
}

// prefsPageFacts are what the test reads of the preference page.
type prefsPageFacts struct {
	Text            string `json:"text"`
	DigestChecked   bool   `json:"digestChecked"`
	AlertChecked    bool   `json:"alertChecked"`
	AlertDisabled   bool   `json:"alertDisabled"`
	SummaryChecked  bool   `json:"summaryChecked"`
	ScrollWidth     int    `json:"scrollWidth"`
	ExternalLoads   int    `json:"externalLoads"`
	SignedInControl bool   `json:"signedInControl"`
}

const readPrefsPage = `({
	text: document.body.innerText,
	digestChecked: document.getElementById("list-digest").checked,
	alertChecked: document.getElementById("list-alert").checked,
	alertDisabled: document.getElementById("list-alert").disabled,
	summaryChecked: document.getElementById("list-summary").checked,
	scrollWidth: document.documentElement.scrollWidth,
	externalLoads: performance.getEntriesByType("resource").filter(r => !r.name.startsWith(location.origin)).length,
	signedInControl: !!document.querySelector("nav.main"),
})`

// TestPreferencePageInChromium opens a recipient's preference link in
// headless Chromium without signing in: the page names the recipient and
// the tenant, shows the level 3 alerts the tenant made mandatory as
// required and not changeable, and saving with the digest unticked stores
// that choice alone; screenshots are kept as test artefacts, and the page
// logs no console error.
func TestPreferencePageInChromium(t *testing.T) {
	bin := chromiumPath(t)
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), `  time_zone    = "America/New_York"
  recipients   = ["ops@acme.example"]
  alert_level3 = ["Ops <ops@acme.example>"]
  mandatory    = ["alert"]
`), notifyT0)
	site := prefsSite(t, w)
	link := site.URL + "/ui/notifications?t=" + linkToken(t, w.st, w.tenant.ID, "ops@acme.example", store.ListDigest)
	dir := artifactsDir(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var mu sync.Mutex
	var console []chromedp.ConsoleMessage
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m)
			mu.Unlock()
		}
	}()
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("prefs-form"))); err != nil {
		t.Fatalf("open the preference link: %v", err)
	}
	shot("preferences")
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[prefsPageFacts](readPrefsPage))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ops@acme.example", "Acme Corp", "required by the tenant's policy", "may be required by the tenant's policy"} {
		if !strings.Contains(facts.Text, want) {
			t.Errorf("the page does not say %q:\n%s", want, facts.Text)
		}
	}
	if !facts.DigestChecked || !facts.AlertChecked || !facts.AlertDisabled || !facts.SummaryChecked {
		t.Errorf("before saving: %+v; want every list ticked and the mandatory alerts not changeable", facts)
	}
	if facts.SignedInControl || facts.ExternalLoads != 0 || facts.ScrollWidth > 1024 {
		t.Errorf("page: %+v; want no signed-in navigation, nothing loaded from elsewhere, no sideways scrolling", facts)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("list-digest")), chromedp.Click(chromedp.ID("prefs-save")),
		chromedp.WaitVisible(chromedp.CSS(".flash.success"))); err != nil {
		shot("preferences-failed")
		t.Fatalf("save the preferences: %v", err)
	}
	shot("preferences-saved")
	facts, err = chromedp.Run(ctx, chromedp.Evaluate[prefsPageFacts](readPrefsPage))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(facts.Text, "Your preferences are saved") || facts.DigestChecked || !facts.AlertChecked || !facts.SummaryChecked {
		t.Errorf("after saving: %+v", facts)
	}
	prefs, err := w.st.NotifyPrefs(t.Context(), w.tenant.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(prefs) != 1 || prefs[0].Recipient != "ops@acme.example" || prefs[0].List != store.ListDigest || prefs[0].Enabled {
		t.Errorf("stored %+v; want the digest left, and nothing else", prefs)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		if m.Type == "error" {
			t.Errorf("console error: %s", m.Text)
		}
	}
}
