package connector

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/internal/hclconf"
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
	case KindHaloPSA:
		return newHaloPSA(cfg, opts), nil
	case KindConnectWise:
		return newConnectWise(cfg, opts), nil
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

// FieldError is a configuration given through the API that is not
// valid: Field names the JSON field.
type FieldError struct {
	Field   string
	Message string
}

// Error says which field and what is wrong.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// MinPoll is the shortest poll interval: external APIs rate-limit.
const MinPoll = 30 * time.Second

// FromAPI checks a connector given through the API and returns its
// configuration; Tenant is the tenant's name as given, Credentials the
// file or environment variable named, or the inline credentials. The
// checks are those of a connector block of the configuration file.
func FromAPI(a api.Connector) (Config, error) {
	cfg := Config{Name: a.Name, Tenant: strings.TrimSpace(a.Tenant), Kind: a.Kind, URL: a.URL, AuthURL: a.AuthURL,
		Filter: a.Filter, PageSize: a.PageSize, Poll: DefaultPoll}
	switch {
	case !ValidName(a.Name):
		return Config{}, fieldErr("name", "a connector's name must be letters, digits and . _ - (up to 64), such as \"acme-servicenow\", not %q", a.Name)
	case cfg.Tenant == "":
		return Config{}, fieldErr("tenant", "tenant names the tenant whose tickets the connector keeps")
	case !slices.Contains(Kinds, a.Kind):
		return Config{}, fieldErr("kind", "kind must be one of %s, not %q", strings.Join(Kinds, ", "), a.Kind)
	}
	if msg := CheckFilter(a.Kind, a.Filter); msg != "" {
		return Config{}, fieldErr("filter", "%s", strings.TrimSuffix(msg, "."))
	}
	if a.Kind != KindWebhook || a.URL != "" {
		if msg := checkURL(a.URL); msg != "" {
			return Config{}, fieldErr("url", "%s", msg)
		}
	}
	if a.AuthURL != "" {
		if msg := checkURL(a.AuthURL); msg != "" {
			return Config{}, fieldErr("auth_url", "%s", msg)
		}
	}
	n := 0
	if a.Credentials != nil {
		n++
		c := Credentials(*a.Credentials)
		cfg.Credentials.Inline = &c
	}
	if a.CredentialsFile != "" {
		n++
		if !filepath.IsAbs(a.CredentialsFile) {
			return Config{}, fieldErr("credentials_file", "must be an absolute path, not %q", a.CredentialsFile)
		}
		cfg.Credentials.File = filepath.Clean(a.CredentialsFile)
	}
	if a.CredentialsEnv != "" {
		n++
		if !envRE.MatchString(a.CredentialsEnv) {
			return Config{}, fieldErr("credentials_env", "must name an environment variable, not hold the credentials")
		}
		cfg.Credentials.Env = a.CredentialsEnv
	}
	if n > 1 {
		return Config{}, fieldErr("credentials", "give one of credentials, credentials_file and credentials_env")
	}
	if a.Poll != "" {
		d, err := hclconf.ParseDuration(a.Poll)
		switch {
		case err != nil:
			return Config{}, fieldErr("poll", "%v", err)
		case d < MinPoll:
			return Config{}, fieldErr("poll", "must be at least \"30s\", not %q: external APIs rate-limit", a.Poll)
		}
		cfg.Poll = d
	}
	if a.PageSize < 0 || a.PageSize > 1000 {
		return Config{}, fieldErr("page_size", "must be from 1 to 1000, not %d", a.PageSize)
	}
	cfg.Mapping = Mapping{ItemLabelPrefix: DefaultItemLabelPrefix, HostLabelPrefix: DefaultHostLabelPrefix, Origin: ticket.Internal}
	if m := a.Mapping; m != nil {
		if err := mappingFromAPI(m, &cfg.Mapping); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// envRE is what an environment variable's name may be.
var envRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// MappingFields are the ticket fields a mapping may name (in the API and
// in collector.hcl).
var MappingFields = []string{"reference", "title", "description", "impact", "rollback_plan", "state", "approval", "class", "start", "end", "hosts", "labels", "items", "requester", "updated", "link", "group"}

func mappingFromAPI(a *api.ConnectorMapping, m *Mapping) error {
	for k := range a.Fields {
		if !slices.Contains(MappingFields, k) {
			return fieldErr("mapping.fields", "maps ticket fields (%s) to external ones; %q is not one", strings.Join(MappingFields, ", "), k)
		}
	}
	m.Fields = a.Fields
	m.States = map[string]ticket.State{}
	for k, v := range a.States {
		if !slices.Contains(ticket.States, ticket.State(v)) {
			return fieldErr("mapping.states", "%q (for %q) is not a ticket state", v, k)
		}
		m.States[k] = ticket.State(v)
	}
	m.Approvals = map[string]Approval{}
	for k, v := range a.Approvals {
		switch ap := Approval(v); ap {
		case ApprovalNone, ApprovalRequested, ApprovalApproved, ApprovalRejected:
			m.Approvals[k] = ap
		default:
			return fieldErr("mapping.approvals", "maps external values to none, requested, approved or rejected; %q (for %q) is none of them", v, k)
		}
	}
	if a.ItemLabelPrefix != nil {
		m.ItemLabelPrefix = *a.ItemLabelPrefix
	}
	if a.HostLabelPrefix != nil {
		m.HostLabelPrefix = *a.HostLabelPrefix
	}
	m.DefaultItems = a.DefaultItems
	switch o := ticket.Origin(a.Origin); o {
	case "":
	case ticket.Internal, ticket.Customer:
		m.Origin = o
	default:
		return fieldErr("mapping.origin", "must be %q or %q, not %q", ticket.Internal, ticket.Customer, a.Origin)
	}
	if a.TimeZone != "" {
		if _, err := policy.LoadZone(a.TimeZone); err != nil {
			return fieldErr("mapping.time_zone", "must be an IANA zone such as \"Europe/Berlin\": %v", err)
		}
		m.TimeZone = a.TimeZone
	}
	return nil
}

// checkURL accepts an absolute http(s) URL without user info.
func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "the base URL of the instance is required, such as \"https://acme.service-now.com\""
	case err != nil:
		return "not a URL"
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
		return fmt.Sprintf("must be an absolute https:// URL, not %q", s)
	case u.User != nil:
		return "must not hold a user name or password; give credentials"
	}
	return ""
}

// ToAPI is the configuration as the API shows it: without inline
// credentials (HasCredentials says whether there are some), with the
// tenant's name.
func ToAPI(cfg Config, tenantName string) api.Connector {
	a := api.Connector{Name: cfg.Name, Tenant: tenantName, Kind: cfg.Kind, URL: cfg.URL, AuthURL: cfg.AuthURL,
		Filter: cfg.Filter, PageSize: cfg.PageSize, CredentialsFile: cfg.Credentials.File, CredentialsEnv: cfg.Credentials.Env,
		HasCredentials: cfg.Credentials.Inline != nil}
	if cfg.Poll > 0 {
		a.Poll = formatDuration(cfg.Poll)
	}
	m := cfg.Mapping
	am := &api.ConnectorMapping{Fields: m.Fields, DefaultItems: m.DefaultItems, Origin: string(m.Origin), TimeZone: m.TimeZone}
	if len(m.States) > 0 {
		am.States = map[string]string{}
		for k, v := range m.States {
			am.States[k] = string(v)
		}
	}
	if len(m.Approvals) > 0 {
		am.Approvals = map[string]string{}
		for k, v := range m.Approvals {
			am.Approvals[k] = string(v)
		}
	}
	if m.ItemLabelPrefix != DefaultItemLabelPrefix {
		am.ItemLabelPrefix = &m.ItemLabelPrefix
	}
	if m.HostLabelPrefix != DefaultHostLabelPrefix {
		am.HostLabelPrefix = &m.HostLabelPrefix
	}
	a.Mapping = am
	return a
}

// formatDuration writes d as the configuration does: "5m", "90s", "1h30m".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// StatusToAPI is a status as the API shows it; poll is the connector's
// interval, now the time staleness is judged at. A connector is stale
// when its last sync failed, or a polled one has not succeeded for three
// intervals (or ever).
func StatusToAPI(s Status, poll time.Duration, now time.Time) *api.ConnectorStatus {
	if poll <= 0 {
		poll = DefaultPoll
	}
	out := &api.ConnectorStatus{LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess, LastError: s.LastError, LastErrorAt: s.LastErrorAt,
		AuthFailed: s.AuthFailed, Failures: s.Failures, Created: s.Created, Updated: s.Updated, Unchanged: s.Unchanged, Rejected: s.Rejected,
		Stale: s.Stale(now, poll) || s.LastError != ""}
	if s.Kind == KindWebhook {
		// A webhook waits for deliveries: quiet is not stale.
		out.Stale = s.LastError != ""
	}
	for _, r := range s.Rejects {
		out.Rejects = append(out.Rejects, api.ConnectorReject{Reference: r.Reference, Reason: r.Reason})
	}
	return out
}

// PollOf is the poll interval of a connector as the API shows it;
// DefaultPoll when it names none or an invalid one.
func PollOf(a api.Connector) time.Duration {
	if d, err := hclconf.ParseDuration(a.Poll); err == nil && d > 0 {
		return d
	}
	return DefaultPoll
}
