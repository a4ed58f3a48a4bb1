package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/config"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// Paths of the notification pages under the web report's base: where a
// recipient sets what they get, and where one click unsubscribes a list
// (RFC 8058; the List-Unsubscribe header of digests and summaries).
const (
	PreferencesPath = "/notifications"
	UnsubscribePath = "/notifications/unsubscribe"
)

// MailLinks are the absolute URLs notification emails link to, all built
// from the collector's public_url.
type MailLinks struct {
	// Base is the web report's URL ("https://drift.example.net/ui"); every
	// link to a change, host or ticket starts with it.
	Base string
	// Preferences is the recipients' preference page; each recipient's
	// signed token is added as the query parameter t.
	Preferences string
	// Unsubscribe is the one-click unsubscription endpoint, with the
	// recipient's signed token (which names the list) added as the query
	// parameter t; empty when public_url is not https, as RFC 8058
	// requires.
	Unsubscribe string
}

// LinksFor returns the links of notification emails for a configuration.
func LinksFor(cfg *config.Collector) MailLinks {
	pub := "https://localhost:8443"
	if cfg.PublicURL != nil {
		u := *cfg.PublicURL
		u.RawQuery, u.Fragment = "", ""
		pub = u.String()
	}
	base := strings.TrimRight(pub, "/") + reporter.DefaultBasePath
	l := MailLinks{Base: base, Preferences: base + PreferencesPath}
	if strings.HasPrefix(base, "https://") {
		l.Unsubscribe = base + UnsubscribePath
	}
	return l
}

// mailLink adds query parameters to an absolute URL.
func mailLink(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// NewMailer returns the SMTP mailer of the configuration's smtp block; an
// error when there is none.
func NewMailer(cfg *config.Collector) (*notify.SMTP, error) {
	if cfg.SMTP == nil {
		return nil, fmt.Errorf("%s has no smtp block: add one that names the mail server", configName(cfg))
	}
	m, err := notify.NewSMTP(*cfg.SMTP)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configName(cfg), err)
	}
	return m, nil
}

func configName(cfg *config.Collector) string {
	if cfg.Path != "" {
		return cfg.Path
	}
	return "the collector configuration"
}

// NotifyOptions adjust what NewNotifier builds; the zero value takes
// everything from the configuration.
type NotifyOptions struct {
	// Log gets what the notifier does; nil logs nothing.
	Log *zap.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Mailer sends the emails; nil: the configuration's SMTP server.
	Mailer notify.Mailer
	// Policies are the tenants' notification policies; nil: the
	// configuration's notify blocks.
	Policies notify.PolicySource
	// Interval is how often the notifier ticks; 0 is
	// notify.DefaultInterval.
	Interval time.Duration
	// Owner names this collector in claims; empty: host, process and a
	// random suffix.
	Owner string
}

// TenantPolicies is the notification policies in force: the notify blocks
// of the configuration, and the settings stored through the API for the
// tenants without one. A tenant's notify block wins over its stored
// settings, whole: the two are not merged. Stored settings are read on
// every tick, so a change through the API applies at the next one, in
// every collector, without a restart.
type TenantPolicies struct {
	// Config are the configuration's notify blocks.
	Config []notify.Policy
	// Store holds the settings set through the API.
	Store interface {
		AllNotifySettings(ctx context.Context) ([]store.TenantNotifySettings, error)
		TenantByID(ctx context.Context, id string) (store.Tenant, error)
	}
	// Log gets stored settings that no longer compile; nil logs nothing.
	Log *zap.Logger
}

// Policies returns the configuration's policies, then the stored ones of
// the other tenants.
func (tp *TenantPolicies) Policies(ctx context.Context) ([]notify.Policy, error) {
	out := slices.Clone(tp.Config)
	if tp.Store == nil {
		return out, nil
	}
	configured := map[string]bool{}
	for _, p := range tp.Config {
		configured[p.TenantName] = true
		configured["\x00"+p.TenantID] = true
	}
	all, err := tp.Store.AllNotifySettings(ctx)
	if err != nil {
		return out, fmt.Errorf("stored notification settings: %w", err)
	}
	for _, ns := range all {
		t, err := tp.Store.TenantByID(ctx, ns.TenantID)
		if err != nil {
			return out, fmt.Errorf("stored notification settings of tenant %s: %w", ns.TenantID, err)
		}
		if configured[t.Name] || configured["\x00"+t.ID] {
			continue // the notify block wins
		}
		p, err := CompileStoredSettings(ns.Settings)
		if err != nil {
			if tp.Log != nil {
				tp.Log.Warn("stored notification settings ignored", zap.String("tenant", t.Name), zap.Error(err))
			}
			continue
		}
		p.TenantID, p.TenantName = t.ID, t.Name
		out = append(out, p)
	}
	return out, nil
}

// CompileStoredSettings decodes settings stored through the API and
// compiles them; unknown fields are refused.
func CompileStoredSettings(raw []byte) (notify.Policy, error) {
	var s notify.Settings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return notify.Policy{}, fmt.Errorf("decode notification settings: %w", err)
	}
	return s.Compile()
}

// NewNotifier returns the notifier of a configuration over a store: the
// tenants' policies from the notify blocks and the settings stored
// through the API (TenantPolicies), their reconciled drift items
// as changes, bodies rendered by the reporter with links built from
// public_url, and delivery through the smtp block.
func NewNotifier(cfg *config.Collector, st store.Store, o NotifyOptions) (*notify.Notifier, error) {
	if st == nil {
		return nil, errors.New("notifier: no store")
	}
	mailer := o.Mailer
	if mailer == nil {
		m, err := NewMailer(cfg)
		if err != nil {
			return nil, err
		}
		mailer = m
	}
	policies := o.Policies
	if policies == nil {
		policies = &TenantPolicies{Config: cfg.Notify, Store: st, Log: o.Log}
	}
	links := LinksFor(cfg)
	r, err := NewMailRenderer(links)
	if err != nil {
		return nil, err
	}
	src := &DriftChanges{Store: st, Log: o.Log}
	n, err := notify.New(notify.Options{
		Store: st, Changes: src, Metrics: src, Policies: policies, Renderer: r, Mailer: mailer,
		Log: o.Log, Now: o.Now, Interval: o.Interval, Owner: o.Owner, UnsubscribeURL: links.Unsubscribe,
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	return n, nil
}
