package collector

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
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
