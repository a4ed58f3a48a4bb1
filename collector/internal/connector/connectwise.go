package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// connectWise reads ConnectWise Manage (PSA) change requests: the service
// tickets of a change board, with GET /service/tickets of the REST API
// 3.0 (conditions on lastUpdated, orderBy, page and pageSize, the next
// page from the Link header), each ticket's configurations from
// /service/tickets/{id}/configurations as its hosts. It logs in with a
// member's API keys (Basic company+publicKey:privateKey) and the
// integration's clientId header.
type connectWise struct{ base }

func newConnectWise(cfg Config, opts Options) *connectWise {
	return &connectWise{base{cfg: cfg, opts: opts}}
}

// connectWiseStates are the statuses of a typical change board.
var connectWiseStates = map[string]ticket.State{
	"new": ticket.Draft, "draft": ticket.Draft,
	"submitted": ticket.Submitted, "in review": ticket.Submitted, "assigned": ticket.Submitted,
	"pending approval": ticket.Reviewed, "awaiting approval": ticket.Reviewed, "cab review": ticket.Reviewed,
	"approved": ticket.Approved, "scheduled": ticket.Approved,
	"in progress": ticket.Implementing, "implementing": ticket.Implementing,
	"completed": ticket.Implemented, "implemented": ticket.Implemented, "resolved": ticket.Implemented,
	"closed": ticket.Documented, ">closed": ticket.Documented,
	"rejected": ticket.Rejected, "declined": ticket.Rejected,
	"cancelled": ticket.Cancelled, "canceled": ticket.Cancelled,
}

// connectWiseApprovals are the values of an approval custom field named
// in the mapping, and the status names that carry an approval.
var connectWiseApprovals = map[string]Approval{
	"": ApprovalNone, "none": ApprovalNone, "not required": ApprovalNone,
	"pending": ApprovalRequested, "requested": ApprovalRequested, "pending approval": ApprovalRequested, "awaiting approval": ApprovalRequested,
	"approved": ApprovalApproved, "yes": ApprovalApproved, "true": ApprovalApproved,
	"rejected": ApprovalRejected, "declined": ApprovalRejected,
}

// Defaults of the ConnectWise connector.
const (
	connectWisePageSize = 100
	// connectWiseAPI is the REST API's path under the site's URL.
	connectWiseAPI = "/v4_6_release/apis/3.0"
	// connectWiseAccept pins the API version the mapping follows.
	connectWiseAccept = "application/vnd.connectwise.com+json; version=2025.1"
	// connectWiseBoard is the board read when no filter is set.
	connectWiseBoard = `board/name="Change Management"`
	// connectWiseItemsField is the custom field (caption) listing item
	// patterns.
	connectWiseItemsField = "Driftwatch Items"
	// connectWiseRefPrefix turns a ticket ID into a reference.
	connectWiseRefPrefix = "CW-"
)

func (w *connectWise) auth(c Credentials, r *http.Request) {
	r.SetBasicAuth(c.Company+"+"+c.PublicKey, c.PrivateKey)
	r.Header.Set("clientId", c.ClientID)
	r.Header.Set("Accept", connectWiseAccept)
}

// api is the REST API's base URL: the configured URL when it names the
// API already, else the API path under it.
func (w *connectWise) api() string {
	u := strings.TrimRight(w.cfg.URL, "/")
	if strings.Contains(u, "/apis/3.0") {
		return u
	}
	return u + connectWiseAPI
}

// Poll reads the board's tickets updated at or after since, oldest first,
// following the Link header's next page, and each one's configurations.
func (w *connectWise) Poll(ctx context.Context, since Cursor) ([]Record, Cursor, error) {
	c, err := w.client(w.auth)
	if err != nil {
		return nil, since, err
	}
	if c.creds.Company == "" || c.creds.PublicKey == "" || c.creds.PrivateKey == "" || c.creds.ClientID == "" {
		return nil, since, fmt.Errorf("connector %s: %w: the credentials need \"company\", \"public_key\", \"private_key\" and \"client_id\"", w.cfg.Name, ErrAuth)
	}
	filter := strings.TrimSpace(w.cfg.Filter)
	if filter == "" {
		filter = connectWiseBoard
	}
	conds := "(" + filter + ")"
	if !since.UpdatedAt.IsZero() {
		conds += " and lastUpdated>=[" + since.UpdatedAt.UTC().Format(time.RFC3339) + "]"
	}
	size := w.pageSize(connectWisePageSize)
	next := joinURL(w.api(), "/service/tickets", url.Values{
		"conditions": {conds},
		"orderBy":    {"lastUpdated asc"},
		"page":       {"1"},
		"pageSize":   {strconv.Itoa(size)},
	})
	cur := since
	var out []Record
	for page := 1; next != ""; page++ {
		var tickets []json.RawMessage
		hdr, err := c.do(ctx, request{method: http.MethodGet, url: next}, &tickets)
		if err != nil {
			return nil, since, err
		}
		for i, raw := range tickets {
			pos := (page-1)*size + i + 1
			var o object
			if err := json.Unmarshal(raw, &o); err != nil {
				out = append(out, Record{Err: fmt.Errorf("ticket at position %d: %w: %v", pos, ErrRejected, err)})
				continue
			}
			r := w.record(o, c.creds.Company)
			if r.Err == nil {
				if err := w.configurations(ctx, c, o, &r); err != nil {
					return nil, since, err
				}
			}
			cur = cur.advance(r.UpdatedAt)
			out = append(out, r)
		}
		link := hdr.Get("Link")
		next = w.nextPage(link)
		if link == "" && len(tickets) == size {
			// No Link header (a proxy may drop it): ask for the next page
			// until one comes back short.
			next = joinURL(w.api(), "/service/tickets", url.Values{
				"conditions": {conds},
				"orderBy":    {"lastUpdated asc"},
				"page":       {strconv.Itoa(page + 1)},
				"pageSize":   {strconv.Itoa(size)},
			})
		}
		if len(tickets) == 0 {
			next = ""
		}
	}
	return out, cur, nil
}

// nextPage is the rel="next" URL of a Link header, when it is on the
// instance's host; "" when there is none.
func (w *connectWise) nextPage(link string) string {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		nu, err := url.Parse(target)
		if err != nil {
			return ""
		}
		base, err := url.Parse(w.api())
		if err != nil || !strings.EqualFold(nu.Host, base.Host) {
			// Never send the keys to another host; ask for the page on
			// ours instead.
			if err != nil {
				return ""
			}
			nu.Scheme, nu.Host = base.Scheme, base.Host
		}
		return nu.String()
	}
	return ""
}

// record maps one service ticket; configurations are read separately.
func (w *connectWise) record(o object, company string) Record {
	m := &w.cfg.Mapping
	get := func(name, def string) any { return psaField(o, m.field(name, def)) }
	id := strings.TrimSpace(text(o["id"]))
	if id == "" {
		return Record{Err: rejectf("without id", "no id")}
	}
	r := Record{
		Reference:    connectWiseRefPrefix + id,
		Title:        strings.TrimSpace(text(get("title", "summary"))),
		Description:  strings.TrimSpace(text(get("description", ""))),
		Impact:       strings.TrimSpace(text(get("impact", ""))),
		RollbackPlan: strings.TrimSpace(text(get("rollback_plan", ""))),
		Requester:    strings.TrimSpace(text(get("requester", "contactEmailAddress"))),
	}
	if f, ok := m.Fields["reference"]; ok {
		if ref := strings.TrimSpace(text(psaField(o, f))); ref != "" {
			r.Reference = ref
		}
	}
	if r.Requester == "" {
		r.Requester = strings.TrimSpace(text(o["contactName"]))
	}
	if u, err := url.Parse(w.cfg.URL); err == nil && u.Host != "" {
		q := url.Values{"service_recid": {id}}
		if company != "" {
			q.Set("companyName", company)
		}
		r.Link = u.Scheme + "://" + u.Host + "/v4_6_release/services/system_io/Service/fv_sr100_request.rails?" + q.Encode()
	}
	if co := strings.TrimSpace(text(lookup(o, "company.name"))); co != "" {
		r.Description = strings.TrimLeft(r.Description+"\n\nCompany: "+co, "\n")
	}
	r.ExternalState = strings.TrimSpace(text(get("state", "status.name")))
	st, ok := m.state(r.ExternalState, connectWiseStates)
	if !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown status %q", r.ExternalState)}
	}
	r.State = st
	ap, err := w.approval(o, r.ExternalState)
	if err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%v", err)}
	}
	r.Approval = ap
	if r.Class = classOf(text(get("class", "type.name"))); r.Class == "" {
		r.Class = ticket.Normal
	}
	loc := w.location()
	if r.UpdatedAt, err = parseTime(text(get("updated", "_info.lastUpdated")), time.UTC); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field("updated", "_info.lastUpdated"), err)}
	}
	startF, endF := m.field("start", "estimatedStartDate"), m.field("end", "requiredDate")
	if r.Start, err = parseTime(text(psaField(o, startF)), loc); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", startF, err)}
	}
	if r.End, err = parseTime(text(psaField(o, endF)), loc); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", endF, err)}
	}
	m.scope(&r, list(get("hosts", "")), list(get("items", connectWiseItemsField)), list(get("labels", "")))
	return r
}

// approval reads a ticket's approval: from the mapping's approval field
// when one is set; else the ticket's approved flag, or a status that
// says approved, pending or rejected.
func (w *connectWise) approval(o object, status string) (Approval, error) {
	m := &w.cfg.Mapping
	if f, ok := m.Fields["approval"]; ok {
		v := strings.TrimSpace(text(psaField(o, f)))
		a, ok := m.approval(v, connectWiseApprovals)
		if !ok {
			return "", fmt.Errorf("unknown approval %q in %s", v, f)
		}
		return a, nil
	}
	if b, _ := o["approved"].(bool); b {
		return ApprovalApproved, nil
	}
	if a, ok := m.approval(status, connectWiseApprovals); ok {
		return a, nil
	}
	return ApprovalNone, nil
}

// configurations adds the configurations attached to a ticket to its
// hosts, by device identifier.
func (w *connectWise) configurations(ctx context.Context, c *client, o object, r *Record) error {
	if _, ok := w.cfg.Mapping.Fields["hosts"]; ok {
		return nil // the mapping names the hosts' field instead
	}
	id := text(o["id"])
	var cfgs []struct {
		ID               int    `json:"id"`
		DeviceIdentifier string `json:"deviceIdentifier"`
	}
	u := joinURL(w.api(), "/service/tickets/"+url.PathEscape(id)+"/configurations", url.Values{"pageSize": {"1000"}})
	if _, err := c.do(ctx, request{method: http.MethodGet, url: u}, &cfgs); err != nil {
		return err
	}
	for _, cf := range cfgs {
		if h := strings.TrimSpace(cf.DeviceIdentifier); h != "" {
			r.Hosts = append(r.Hosts, h)
		}
	}
	slices.Sort(r.Hosts)
	r.Hosts = slices.Compact(r.Hosts)
	return nil
}
