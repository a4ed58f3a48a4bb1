package config

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/driftwatch/driftwatch/collector/internal/connector"
	zones "github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// connectorBlock is a connector block as written; its label names it.
type connectorBlock struct {
	Name            string        `hcl:"name,label"`
	Tenant          string        `hcl:"tenant"`
	Kind            string        `hcl:"kind"`
	URL             string        `hcl:"url,optional"`
	AuthURL         string        `hcl:"auth_url,optional"`
	CredentialsFile string        `hcl:"credentials_file,optional"`
	CredentialsEnv  string        `hcl:"credentials_env,optional"`
	Poll            string        `hcl:"poll,optional"`
	Filter          string        `hcl:"filter,optional"`
	PageSize        int           `hcl:"page_size,optional"`
	Mapping         *mappingBlock `hcl:"mapping,block"`
	Body            hcl.Body      `hcl:",body"`
}

// mappingBlock is a connector's mapping block as written.
type mappingBlock struct {
	Fields          map[string]string `hcl:"fields,optional"`
	States          map[string]string `hcl:"states,optional"`
	Approvals       map[string]string `hcl:"approvals,optional"`
	ItemLabelPrefix *string           `hcl:"item_label_prefix,optional"`
	HostLabelPrefix *string           `hcl:"host_label_prefix,optional"`
	DefaultItems    []string          `hcl:"default_items,optional"`
	Origin          string            `hcl:"origin,optional"`
	TimeZone        string            `hcl:"time_zone,optional"`
	Body            hcl.Body          `hcl:",body"`
}

// fillConnectors checks the connector blocks and sets c.Connectors.
func (c *Collector) fillConnectors(blocks []*connectorBlock, root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	syntax := syntaxBlocks(root, "connector")
	seen := map[string]*hcl.Range{}
	for i, b := range blocks {
		var label *hcl.Range
		if i < len(syntax) && len(syntax[i].LabelRanges) > 0 {
			label = rangePtr(syntax[i].LabelRanges[0])
		}
		at := func(name, summary, detail string) {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(b.Body, name), summary, detail))
		}
		n := len(diags)
		if first, dup := seen[b.Name]; dup {
			diags = append(diags, hclconf.ErrAt(label, "Duplicate connector block", fmt.Sprintf("Connector %q is defined at %s already.", b.Name, rangeString(first))))
			continue
		}
		seen[b.Name] = label
		if !connectorName.MatchString(b.Name) {
			diags = append(diags, hclconf.ErrAt(label, "Invalid connector name", fmt.Sprintf("A connector's name must be letters, digits and . _ - (up to 64), such as \"acme-servicenow\", not %q.", b.Name)))
		}
		cfg := connector.Config{Name: b.Name, Tenant: strings.TrimSpace(b.Tenant), Kind: b.Kind, URL: b.URL, AuthURL: b.AuthURL, Filter: b.Filter, PageSize: b.PageSize, Poll: connector.DefaultPoll}
		if cfg.Tenant == "" {
			at("tenant", "Missing tenant", "tenant names the tenant whose tickets the connector keeps, such as \"acme\".")
		}
		if !slices.Contains(connector.Kinds, b.Kind) {
			at("kind", "Unknown connector kind", fmt.Sprintf("kind must be one of %s, not %q.", strings.Join(connector.Kinds, ", "), b.Kind))
		}
		if detail := connector.CheckFilter(b.Kind, b.Filter); detail != "" {
			at("filter", "Invalid connector filter", detail)
		}
		if b.Kind != connector.KindWebhook || b.URL != "" {
			if detail := checkConnectorURL("url", b.URL); detail != "" {
				at("url", "Invalid connector url", detail)
			}
		}
		if b.AuthURL != "" {
			if detail := checkConnectorURL("auth_url", b.AuthURL); detail != "" {
				at("auth_url", "Invalid connector auth_url", detail)
			}
		}
		switch {
		case b.CredentialsFile != "" && b.CredentialsEnv != "":
			at("credentials_env", "Conflicting credentials", "Set one of credentials_file and credentials_env, not both.")
		case b.CredentialsFile == "" && b.CredentialsEnv == "":
			diags = append(diags, hclconf.ErrAt(label, "Missing credentials",
				fmt.Sprintf("connector %q needs credentials_file (a JSON file readable by the collector only) or credentials_env (an environment variable holding that JSON).", b.Name)))
		case b.CredentialsFile != "":
			diags = append(diags, checkAbs(b.Body, "credentials_file", b.CredentialsFile)...)
			cfg.Credentials.File = path.Clean(b.CredentialsFile)
		default:
			if !envName.MatchString(b.CredentialsEnv) {
				at("credentials_env", "Invalid environment variable name", fmt.Sprintf("credentials_env must name an environment variable, not hold the credentials; %q is not a name.", redactEnv(b.CredentialsEnv)))
			}
			cfg.Credentials.Env = b.CredentialsEnv
		}
		if b.Poll != "" {
			d, err := hclconf.ParseDuration(b.Poll)
			switch {
			case err != nil:
				at("poll", "Invalid duration", err.Error()+".")
			case d < connector.MinPoll:
				at("poll", "Poll interval too short", fmt.Sprintf("poll must be at least %q, not %q: external APIs rate-limit.", connector.MinPoll.String(), b.Poll))
			default:
				cfg.Poll = d
			}
		}
		if b.PageSize < 0 || b.PageSize > 1000 {
			at("page_size", "Invalid page_size", fmt.Sprintf("page_size must be from 1 to 1000, not %d.", b.PageSize))
		}
		cfg.Mapping = connector.Mapping{ItemLabelPrefix: connector.DefaultItemLabelPrefix, HostLabelPrefix: connector.DefaultHostLabelPrefix, Origin: ticket.Internal}
		if m := b.Mapping; m != nil {
			diags = append(diags, fillMapping(m, &cfg.Mapping)...)
		}
		if len(diags) == n {
			c.Connectors = append(c.Connectors, cfg)
		}
	}
	return diags
}

// connectorName is what a connector's name may be: it names its state file.
var connectorName = struct{ MatchString func(string) bool }{connector.ValidName}

// fillMapping checks a mapping block and sets m from it.
func fillMapping(b *mappingBlock, m *connector.Mapping) hcl.Diagnostics {
	var diags hcl.Diagnostics
	at := func(name, summary, detail string) {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(b.Body, name), summary, detail))
	}
	known := connector.MappingFields
	for k := range b.Fields {
		if !slices.Contains(known, k) {
			at("fields", "Unknown ticket field", fmt.Sprintf("fields maps ticket fields (%s) to external ones; %q is not one.", strings.Join(known, ", "), k))
		}
	}
	m.Fields = b.Fields
	m.States = map[string]ticket.State{}
	for k, v := range b.States {
		if !slices.Contains(ticket.States, ticket.State(v)) {
			at("states", "Unknown ticket state", fmt.Sprintf("states maps external states to ticket states; %q (for %q) is not a ticket state.", v, k))
		}
		m.States[k] = ticket.State(v)
	}
	m.Approvals = map[string]connector.Approval{}
	for k, v := range b.Approvals {
		a := connector.Approval(v)
		if a != connector.ApprovalNone && a != connector.ApprovalRequested && a != connector.ApprovalApproved && a != connector.ApprovalRejected {
			at("approvals", "Unknown approval", fmt.Sprintf("approvals maps external values to none, requested, approved or rejected; %q (for %q) is none of them.", v, k))
		}
		m.Approvals[k] = a
	}
	if b.ItemLabelPrefix != nil {
		m.ItemLabelPrefix = *b.ItemLabelPrefix
	}
	if b.HostLabelPrefix != nil {
		m.HostLabelPrefix = *b.HostLabelPrefix
	}
	m.DefaultItems = b.DefaultItems
	switch o := ticket.Origin(b.Origin); o {
	case "":
	case ticket.Internal, ticket.Customer:
		m.Origin = o
	default:
		at("origin", "Invalid origin", fmt.Sprintf("origin must be %q or %q, not %q.", ticket.Internal, ticket.Customer, b.Origin))
	}
	if b.TimeZone != "" {
		if _, err := zones.LoadZone(b.TimeZone); err != nil {
			at("time_zone", "Invalid time zone", fmt.Sprintf("time_zone must be an IANA zone such as \"Europe/Berlin\": %v.", err))
		}
		m.TimeZone = b.TimeZone
	}
	return diags
}

// checkConnectorURL accepts an absolute http(s) URL without user info.
func checkConnectorURL(name, s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Sprintf("%s is required: the base URL of the instance, such as \"https://acme.service-now.com\".", name)
	case err != nil:
		return fmt.Sprintf("%s is not a URL: %v.", name, urlErr(err))
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
		return fmt.Sprintf("%s must be an absolute https:// URL, not %q.", name, s)
	case u.User != nil:
		return fmt.Sprintf("%s must not hold a user name or password; use credentials_file.", name)
	}
	return ""
}
