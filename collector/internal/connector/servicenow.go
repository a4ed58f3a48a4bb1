package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// serviceNow reads change requests through ServiceNow's Table API
// (GET /api/now/table/change_request), with sysparm_display_value=all so
// that every field comes as its raw value and its display value.
type serviceNow struct{ base }

func newServiceNow(cfg Config, opts Options) *serviceNow {
	return &serviceNow{base{cfg: cfg, opts: opts}}
}

// serviceNowStates are the change_request state codes (and their names)
// of the default change model.
var serviceNowStates = map[string]ticket.State{
	"-5": ticket.Draft, "new": ticket.Draft,
	"-4": ticket.Submitted, "assess": ticket.Submitted,
	"-3": ticket.Reviewed, "authorize": ticket.Reviewed,
	"-2": ticket.Approved, "scheduled": ticket.Approved,
	"-1": ticket.Implementing, "implement": ticket.Implementing,
	"0": ticket.Implemented, "review": ticket.Implemented,
	"3": ticket.Documented, "closed": ticket.Documented,
	"4": ticket.Cancelled, "canceled": ticket.Cancelled, "cancelled": ticket.Cancelled,
}

// serviceNowApprovals are the values of change_request.approval.
var serviceNowApprovals = map[string]Approval{
	"not requested": ApprovalNone, "not yet requested": ApprovalNone, "": ApprovalNone,
	"requested": ApprovalRequested, "approved": ApprovalApproved, "rejected": ApprovalRejected,
	"cancelled": ApprovalNone, "duplicate": ApprovalNone,
}

// serviceNowPageSize is the default sysparm_limit.
const serviceNowPageSize = 100

func (s *serviceNow) auth(c Credentials, r *http.Request) {
	if c.Token != "" {
		r.Header.Set("Authorization", "Bearer "+c.Token)
		return
	}
	r.SetBasicAuth(c.Username, c.Password)
}

// Poll reads the change requests updated at or after since, oldest
// first, page by page (sysparm_limit, sysparm_offset).
func (s *serviceNow) Poll(ctx context.Context, since Cursor) ([]Record, Cursor, error) {
	c, err := s.client(s.auth)
	if err != nil {
		return nil, since, err
	}
	m := &s.cfg.Mapping
	var conds []string
	if !since.UpdatedAt.IsZero() {
		conds = append(conds, "sys_updated_on>="+since.UpdatedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if s.cfg.Filter != "" {
		conds = append(conds, s.cfg.Filter)
	}
	query := strings.Join(conds, "^") + "^ORDERBYsys_updated_on"
	fields := []string{"sys_id", "sys_updated_on"}
	for _, f := range []struct{ name, def string }{
		{"reference", "number"}, {"title", "short_description"}, {"description", "description"},
		{"impact", "risk_impact_analysis"}, {"rollback_plan", "backout_plan"}, {"state", "state"}, {"approval", "approval"},
		{"class", "type"}, {"start", "start_date"}, {"end", "end_date"}, {"hosts", "cmdb_ci"}, {"group", "assignment_group"},
		{"requester", "requested_by.email"}, {"items", ""}, {"labels", ""},
	} {
		if v := m.field(f.name, f.def); v != "" {
			fields = append(fields, v)
		}
	}
	limit := s.pageSize(serviceNowPageSize)
	cur := since
	var out []Record
	for offset := 0; ; offset += limit {
		q := url.Values{
			"sysparm_query":                  {query},
			"sysparm_display_value":          {"all"},
			"sysparm_exclude_reference_link": {"true"},
			"sysparm_fields":                 {strings.Join(fields, ",")},
			"sysparm_limit":                  {strconv.Itoa(limit)},
			"sysparm_offset":                 {strconv.Itoa(offset)},
		}
		var page struct {
			Result []json.RawMessage `json:"result"`
		}
		hdr, err := c.do(ctx, request{method: http.MethodGet, url: joinURL(s.cfg.URL, "/api/now/table/change_request", q)}, &page)
		if err != nil {
			return nil, since, err
		}
		for i, raw := range page.Result {
			r := s.record(raw, offset+i)
			cur = cur.advance(r.UpdatedAt)
			out = append(out, r)
		}
		total, terr := strconv.Atoi(hdr.Get("X-Total-Count"))
		if len(page.Result) < limit || (terr == nil && offset+len(page.Result) >= total) {
			return out, cur, nil
		}
	}
}

// record maps one change_request; a record that does not map has Err set.
func (s *serviceNow) record(raw json.RawMessage, pos int) Record {
	m := &s.cfg.Mapping
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return Record{Err: fmt.Errorf("record at position %d: %w: %v", pos+1, ErrRejected, err)}
	}
	get := func(name, def string) any { return lookup(o, m.field(name, def)) }
	r := Record{
		Reference:    strings.TrimSpace(value(get("reference", "number"))),
		Title:        strings.TrimSpace(text(get("title", "short_description"))),
		Description:  text(get("description", "description")),
		Impact:       text(get("impact", "risk_impact_analysis")),
		RollbackPlan: text(get("rollback_plan", "backout_plan")),
		Requester:    value(get("requester", "requested_by.email")),
	}
	ref := r.Reference
	if ref == "" {
		ref = fmt.Sprintf("at position %d (sys_id %s)", pos+1, value(o["sys_id"]))
		return Record{Err: rejectf(ref, "no %s", m.field("reference", "number"))}
	}
	sysID := value(o["sys_id"])
	if sysID != "" {
		r.Link = strings.TrimRight(s.cfg.URL, "/") + "/nav_to.do?uri=change_request.do%3Fsys_id%3D" + url.QueryEscape(sysID)
	}
	if g := text(get("group", "assignment_group")); g != "" {
		r.Description = strings.TrimRight(r.Description+"\n\nAssignment group: "+g, "\n")
		r.Description = strings.TrimLeft(r.Description, "\n")
	}
	stateV := get("state", "state")
	r.ExternalState = text(stateV)
	st, ok := m.state(value(stateV), serviceNowStates)
	if !ok {
		st, ok = m.state(text(stateV), serviceNowStates)
	}
	if !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown state %q", value(stateV))}
	}
	r.State = st
	ap, ok := m.approval(value(get("approval", "approval")), serviceNowApprovals)
	if !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown approval %q", value(get("approval", "approval")))}
	}
	r.Approval = ap
	if r.Class = classOf(value(get("class", "type"))); r.Class == "" {
		r.Class = ticket.Normal
	}
	var err error
	if r.UpdatedAt, err = parseTime(value(o["sys_updated_on"]), time.UTC); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "sys_updated_on: %v", err)}
	}
	if r.Start, err = parseTime(value(get("start", "start_date")), time.UTC); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field("start", "start_date"), err)}
	}
	if r.End, err = parseTime(value(get("end", "end_date")), time.UTC); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field("end", "end_date"), err)}
	}
	hosts := list(displayOf(get("hosts", "cmdb_ci")))
	m.scope(&r, hosts, list(displayOf(get("items", ""))), list(displayOf(get("labels", ""))))
	return r
}

// displayOf is a ServiceNow field's display value when it has one.
func displayOf(v any) any {
	if o, ok := v.(object); ok {
		if d, ok := o["display_value"]; ok {
			return d
		}
	}
	return v
}
