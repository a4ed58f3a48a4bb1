package web

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Chromium: DRIFTWATCH_CHROMIUM, or the Debian
// package's binary. Without one the test fails under CI=true and is
// skipped otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("DRIFTWATCH_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "Chromium is not installed (apt-get install chromium, or set DRIFTWATCH_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure", msg)
	}
	t.Skipf("%s; skipping the browser test (under CI=true it fails)", msg)
	return ""
}

// artifactDir is where the test's screenshots and PDF go:
// DRIFTWATCH_ARTIFACTS/<test name>, or a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DRIFTWATCH_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is a headless Chromium on the fixture's web report, recording
// every console message of its tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	step int

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T, f *fixture) *browser {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: f.srv.URL, dir: artifactDir(t)}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Logf("screenshots and the PDF go to %s", b.dir)
	return b
}

// do runs steps and fails the test, with a screenshot, when one fails.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the first element a CSS selector finds.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// tryText is the visible text of the first node sel matches, or "" when
// it cannot be read now: while a page loads, the node found may be gone
// before its text is read.
func (b *browser) tryText(sel string) string {
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Logf("text of %s: %v (page still loading?)", sel, err)
		return ""
	}
	return s
}

// shot saves a full-page screenshot as the next numbered artefact.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.step++
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.step, name)), buf, 0o644); err != nil {
		b.t.Error(err)
	}
}

// signIn signs in through the sign-in form.
func (b *browser) signIn(email string) {
	b.t.Helper()
	b.do("sign in as "+email,
		chromedp.Navigate(b.base+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS("form.signin button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("nav.main")),
	)
}

// signOut signs out with the header's button.
func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
}

// checkConsole fails the test for every console error, uncaught
// exception or browser log error (a refused resource, a CSP violation).
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			b.t.Errorf("console %s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text)
		}
	}
}

// TestBrowser drives the web report in a real headless Chromium: an
// approver signs in, opens the inbox and a drift item, accepts it with a
// reason and sees the host's baseline move to v2; an engineer writes a
// change ticket and submits it, and the approver reviews and approves it;
// the documentation is printed to PDF. Screenshots of each step are kept
// as artefacts; any console error fails the test.
func TestBrowser(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t, f)

	b.signIn("lead@msp.test")
	b.shot("overview")
	b.do("open the inbox",
		chromedp.Click(chromedp.CSS(`nav.main a[href^="/ui/inbox"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.drift-rows")),
	)
	if got := b.text("table.drift-rows tbody tr:first-child td.key"); got != "file:/etc/sudoers.d/deploy" {
		t.Errorf("first inbox row is %q, want the level 3 unauthorized sudoers file", got)
	}
	b.shot("inbox")
	b.do("open the openssl drift item",
		chromedp.Click(chromedp.CSS(`a.row-link[href="/ui/drift/d-web01-openssl"]`)),
		chromedp.WaitVisible(chromedp.ID("accept-reason")),
	)
	b.shot("drift")
	b.do("accept it with a reason",
		chromedp.SendKeys(chromedp.ID("accept-reason"), "Vendor security update, DSA-5678"),
		chromedp.SendKeys(chromedp.ID("accept-ticket"), "CHG-1001"),
		chromedp.Click(chromedp.CSS(`form[action$="/accept"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash.success")),
	)
	if msg := b.text(".flash.success"); !strings.Contains(msg, "it is now v2") {
		t.Errorf("after accepting: %q", msg)
	}
	b.shot("accepted")
	b.do("compare the host's baselines",
		chromedp.Click(chromedp.CSS(`h1 a[href="/ui/hosts/h-web01"]`)),
		chromedp.WaitVisible(chromedp.ID("diff-from")),
		chromedp.SetValue(chromedp.ID("diff-from"), "1"),
		chromedp.SetValue(chromedp.ID("diff-to"), "2"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/hosts/h-web01#baseline-diff"] button`)),
		chromedp.WaitVisible(chromedp.ID("baseline-diff")),
	)
	if got := b.text("#baseline-diff"); got != "Changes from v1 to v2" {
		t.Errorf("baseline comparison heading %q", got)
	}
	if got := b.text("details.change summary"); !strings.Contains(got, "package:openssl") {
		t.Errorf("baseline change %q, want openssl", got)
	}
	b.shot("host-baselines")
	b.signOut()

	// An engineer writes a ticket and submits it.
	b.signIn("eng@msp.test")
	b.do("write a ticket",
		chromedp.Navigate(b.base+"/ui/tickets/new"),
		chromedp.WaitVisible(chromedp.ID("f-tenant")),
		chromedp.SetValue(chromedp.ID("f-tenant"), "t-acme"),
		chromedp.SendKeys(chromedp.ID("f-title"), "Pin the NTP servers"),
		chromedp.SendKeys(chromedp.ID("f-reference"), "CHG-1010"),
		chromedp.SendKeys(chromedp.ID("f-description"), "Use the customer's NTP servers."),
		chromedp.SendKeys(chromedp.ID("f-impact"), "Clock sync restarts for a few seconds."),
		chromedp.SendKeys(chromedp.ID("f-rollback_plan"), "Restore /etc/chrony/chrony.conf from the baseline."),
		chromedp.SendKeys(chromedp.ID("f-host_patterns"), "web-01"),
		chromedp.SendKeys(chromedp.ID("f-item_patterns"), "file:/etc/chrony/**"),
		chromedp.SetValue(chromedp.ID("f-window_start"), "2026-03-03T22:00"),
		chromedp.SetValue(chromedp.ID("f-window_end"), "2026-03-03T23:00"),
		chromedp.SetValue(chromedp.ID("f-time_zone"), "Europe/Berlin"),
	)
	b.shot("ticket-form")
	b.do("save it",
		chromedp.Click(chromedp.CSS(`form.ticket-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash.success")),
	)
	ticketURL, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	b.do("submit it for review",
		chromedp.Click(chromedp.CSS(`button[name=action][value=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.workflow li[aria-current=step]`)),
	)
	// The draft's page shows the workflow too: wait for the next page's.
	var got string
	waitCond(t, "the submitted ticket's page", func() bool {
		got = b.tryText(`ol.workflow li[aria-current=step]`)
		return got == "Submitted"
	})
	if got != "Submitted" {
		t.Errorf("ticket state after submitting: %q", got)
	}
	b.shot("ticket-submitted")
	b.signOut()

	// The approver reviews and approves it.
	b.signIn("lead@msp.test")
	b.do("open the ticket", chromedp.Navigate(ticketURL), chromedp.WaitVisible(chromedp.CSS(`button[value=review]`)))
	b.do("review it",
		chromedp.SendKeys(chromedp.ID("t-comment"), "Servers checked with the customer."),
		chromedp.Click(chromedp.CSS(`button[name=action][value=review]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
	)
	b.do("approve it",
		chromedp.Click(chromedp.CSS(`button[name=action][value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=start]`)),
	)
	if got := b.text(`ol.workflow li[aria-current=step]`); got != "Approved" {
		t.Errorf("ticket state after approval: %q", got)
	}
	if got := b.text(".flash.success"); !strings.Contains(got, "CHG-1010 approved") {
		t.Errorf("after approving: %q", got)
	}
	b.shot("ticket-approved")

	// The documentation, printed.
	b.do("open the documentation",
		chromedp.Navigate(b.base+"/ui/hosts/h-web01/doc"),
		chromedp.WaitVisible(chromedp.CSS(".doc")),
	)
	b.shot("documentation")
	pdf, err := chromedp.Run(b.ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground()))
	if err != nil {
		t.Fatalf("print to PDF: %v", err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 10000 {
		t.Errorf("the printed documentation is %d bytes starting %q, not a PDF of the document", len(pdf), pdf[:min(8, len(pdf))])
	}
	if err := os.WriteFile(filepath.Join(b.dir, "web-01-documentation.pdf"), pdf, 0o644); err != nil {
		t.Error(err)
	}

	// The inbox on a phone.
	b.do("open the inbox on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(b.base+"/ui/inbox"),
		chromedp.WaitVisible(chromedp.CSS("table.drift-rows")),
	)
	b.shot("inbox-phone")
	b.checkConsole()
}
