package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector"
	"github.com/driftwatch/driftwatch/collector/internal/config"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func init() {
	commands["digest preview"] = (*cli).digestPreview
	commands["smtp test"] = (*cli).smtpTest
	moreUsage = append(moreUsage,
		"  driftwatch-collector digest preview -config FILE -tenant NAME [-period day|week|month] [-o DIR]",
		"  driftwatch-collector smtp test -config FILE -to ADDR",
	)
}

// previewFrom is the sender a preview shows without an smtp block.
const previewFrom = "driftwatch <driftwatch@localhost>"

// noMailer refuses to send: a preview sends nothing.
type noMailer struct{}

func (noMailer) Send(_ context.Context, msgs []notify.Message) []notify.Result {
	rs := make([]notify.Result, len(msgs))
	for i := range rs {
		rs[i] = notify.Result{Err: errors.New("a preview sends nothing"), Permanent: true}
	}
	return rs
}

// previewPolicy returns the notification policy a preview of tenant uses:
// its notify block's, with the period (and then that period's default
// schedule) replaced when period is set; the default policy when the
// tenant has no notify block, which is said on stderr.
func (c *cli) previewPolicy(cfg *config.Collector, tenant, period string) (notify.Policy, error) {
	var p notify.Policy
	found := false
	for _, q := range cfg.Notify {
		if q.TenantName == tenant {
			p, found = q, true
			break
		}
	}
	if !found {
		var err error
		if p, err = (notify.Settings{}).Compile(); err != nil {
			return p, err
		}
		p.TenantName = tenant
		fmt.Fprintf(c.stderr, "tenant %s has no notify block in %s: previewing the default digest (%s, %s, UTC)\n",
			tenant, cfg.Path, p.Period, p.Digest)
	}
	if period == "" {
		return p, nil
	}
	per, err := notify.ParsePeriod(period)
	if err != nil {
		return p, fmt.Errorf("-period: %w", err)
	}
	if per != p.Period {
		p.Period = per
		if p.Digest, err = notify.ParseCron(per.DefaultSchedule(), p.Location); err != nil {
			return p, fmt.Errorf("-period: %w", err)
		}
	}
	return p, nil
}

func (c *cli) digestPreview(ctx context.Context, args []string) int {
	var tf tenantFlags
	var period, dir string
	fs := c.tenantFlagSet("digest preview", &tf)
	fs.StringVar(&period, "period", "", "digest `period`: day, week or month (default: the tenant's notify block's, else week)")
	fs.StringVar(&dir, "o", "", "write digest.html, digest.txt and digest.eml to `DIR` instead of the HTML to stdout")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	if strings.TrimSpace(tf.tenant) == "" {
		fmt.Fprintln(c.stderr, "driftwatch-collector digest preview: -tenant NAME is required")
		return 2
	}
	cfg := c.load(tf.cfg)
	if cfg == nil {
		return 2
	}
	st, err := collector.OpenStore(ctx, cfg)
	if err != nil {
		return c.fail(err)
	}
	defer st.Close()
	if _, err := st.TenantByName(ctx, tf.tenant); errors.Is(err, store.ErrNotFound) {
		return c.fail(fmt.Errorf("no tenant %q", tf.tenant))
	} else if err != nil {
		return c.fail(err)
	}
	p, err := c.previewPolicy(cfg, tf.tenant, period)
	if err != nil {
		return c.fail(err)
	}
	n, err := collector.NewNotifier(cfg, st, collector.NotifyOptions{Mailer: noMailer{}, Policies: notify.Policies{p}})
	if err != nil {
		return c.fail(err)
	}
	msg, err := n.PreviewDigest(ctx, tf.tenant, time.Now())
	if err != nil {
		return c.fail(err)
	}
	if dir == "" {
		fmt.Fprint(c.stdout, msg.HTML)
		return 0
	}
	from := previewFrom
	if cfg.SMTP != nil {
		from = cfg.SMTP.From
	}
	var eml bytes.Buffer
	if err := notify.WriteMessage(&eml, from, msg); err != nil {
		return c.fail(err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"digest.html", []byte(msg.HTML)},
		{"digest.txt", []byte(msg.Text)},
		{"digest.eml", eml.Bytes()},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c.fail(fmt.Errorf("digest preview: %w", err))
	}
	// Every file is written aside first: a failure leaves none half
	// written.
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t) // gone already once renamed
		}
	}()
	for _, f := range files {
		tmp, err := writeTemp(dir, f.name, f.data)
		if err != nil {
			return c.fail(fmt.Errorf("digest preview: %w", err))
		}
		tmps = append(tmps, tmp)
	}
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.Rename(tmps[i], path); err != nil {
			return c.fail(fmt.Errorf("digest preview: write %s: %w", path, err))
		}
		fmt.Fprintln(c.stdout, path)
	}
	to := "to " + strings.Join(msg.To, ", ")
	if len(p.Recipients) == 0 {
		to = "no recipients: set recipients in the tenant's notify block"
	}
	fmt.Fprintf(c.stderr, "%s\n%s\n", msg.Subject, to)
	return 0
}

// writeTemp writes data to a new temporary file in dir, synced, and
// returns its path.
func writeTemp(dir, name string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return f.Name(), nil
}

func (c *cli) smtpTest(ctx context.Context, args []string) int {
	var cfgPath, to string
	fs := c.flags("smtp test", &cfgPath)
	fs.StringVar(&to, "to", "", "recipient `ADDR` of the test message (required)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	if strings.TrimSpace(to) == "" {
		fmt.Fprintln(c.stderr, "driftwatch-collector smtp test: -to ADDR is required")
		return 2
	}
	cfg := c.load(cfgPath)
	if cfg == nil {
		return 2
	}
	m, err := collector.NewMailer(cfg)
	if err != nil {
		return c.fail(err)
	}
	resp, err := notify.SendTest(ctx, m, to, time.Now())
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "sent to %s through %s: %s\n", to, m.Address(), resp)
	return 0
}
