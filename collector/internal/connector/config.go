package connector

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Connector kinds.
const (
	KindServiceNow  = "servicenow"
	KindJira        = "jira"
	KindHaloPSA     = "halopsa"
	KindConnectWise = "connectwise"
	KindWebhook     = "webhook"
)

// Kinds lists every connector kind.
var Kinds = []string{KindServiceNow, KindJira, KindHaloPSA, KindConnectWise, KindWebhook}

// Config is one connector as configured.
type Config struct {
	// Name is the connector's name, unique in the collector.
	Name string
	// Tenant is the name of the tenant whose tickets it keeps.
	Tenant string
	// Kind is one of Kinds.
	Kind string
	// URL is the base URL of the external system's instance
	// ("https://acme.service-now.com"); unused for a webhook.
	URL string
	// AuthURL is the OAuth token endpoint (HaloPSA); empty is the
	// kind's default under URL.
	AuthURL string
	// Credentials say where the credentials are.
	Credentials CredentialSource
	// Poll is the interval between polls; DefaultPoll when zero. A
	// webhook is not polled.
	Poll time.Duration
	// Filter narrows what is read, in the external system's own terms:
	// a ServiceNow encoded query ("assignment_group.name=Linux Ops"), a
	// JQL clause ("project = OPS"), HaloPSA ticket type IDs ("12,14"),
	// ConnectWise conditions ("board/name=\"Change Management\"").
	Filter string
	// PageSize is how many records one request asks for; the kind's
	// default when zero.
	PageSize int
	// Mapping maps external records to tickets.
	Mapping Mapping
}

// New returns the Source of a configuration. A webhook connector has a
// Source too (it is never polled: Poll returns nothing), so that its
// Syncer keeps a status.
func New(cfg Config, opts Options) (Source, error) {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: time.Minute}
	}
	switch cfg.Kind {
	case KindServiceNow:
		return newServiceNow(cfg, opts), nil
	case KindJira:
		return newJira(cfg, opts), nil
	case KindHaloPSA, KindConnectWise:
		return nil, fmt.Errorf("connector %s: kind %q has no poller in this version", cfg.Name, cfg.Kind)
	case KindWebhook:
		return webhookSource{cfg: cfg}, nil
	}
	return nil, fmt.Errorf("connector %s: unknown kind %q", cfg.Name, cfg.Kind)
}

// base is what every polling source keeps.
type base struct {
	cfg  Config
	opts Options
}

// Name returns the connector's name.
func (b *base) Name() string { return b.cfg.Name }

// Kind returns the connector's kind.
func (b *base) Kind() string { return b.cfg.Kind }

// pageSize is the configured page size, else def.
func (b *base) pageSize(def int) int {
	if b.cfg.PageSize > 0 {
		return b.cfg.PageSize
	}
	return def
}

// client returns an HTTP client with freshly read credentials; auth sets
// a request's authentication from them.
func (b *base) client(auth func(c Credentials, r *http.Request)) (*client, error) {
	creds, err := b.cfg.Credentials.Load()
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", b.cfg.Name, err)
	}
	c := &client{opts: b.opts, name: "connector " + b.cfg.Name, creds: creds}
	if auth != nil {
		c.auth = func(r *http.Request) { auth(creds, r) }
	}
	return c, nil
}

// location is the mapping's zone for times written without an offset.
func (b *base) location() *time.Location {
	if b.cfg.Mapping.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(b.cfg.Mapping.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// webhookSource is the Source of a webhook connector: it has nothing to
// poll.
type webhookSource struct{ cfg Config }

func (w webhookSource) Name() string { return w.cfg.Name }
func (w webhookSource) Kind() string { return w.cfg.Kind }
func (w webhookSource) Poll(_ context.Context, since Cursor) ([]Record, Cursor, error) {
	return nil, since, nil
}
