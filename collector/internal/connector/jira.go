package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// jira reads Jira Service Management change requests: issues found with
// POST /rest/api/3/search/jql (nextPageToken paging), each with its
// approvals from /rest/servicedeskapi/request/{key}/approval.
type jira struct{ base }

func newJira(cfg Config, opts Options) *jira { return &jira{base{cfg: cfg, opts: opts}} }

// jiraStates are the statuses of JSM's change management workflow.
var jiraStates = map[string]ticket.State{
	"open": ticket.Draft, "planning": ticket.Draft, "to do": ticket.Draft,
	"peer review": ticket.Submitted, "waiting for approval": ticket.Submitted,
	"awaiting approval": ticket.Reviewed, "awaiting cab approval": ticket.Reviewed, "authorize": ticket.Reviewed,
	"awaiting implementation": ticket.Approved, "scheduled": ticket.Approved,
	"implementing": ticket.Implementing, "in progress": ticket.Implementing,
	"completed": ticket.Implemented, "failed": ticket.Implemented, "done": ticket.Implemented, "resolved": ticket.Implemented,
	"closed":   ticket.Documented,
	"declined": ticket.Rejected, "rejected": ticket.Rejected,
	"canceled": ticket.Cancelled, "cancelled": ticket.Cancelled,
}

// jiraPageSize is the default maxResults.
const jiraPageSize = 50

func (j *jira) auth(c Credentials, r *http.Request) {
	if c.Token != "" && c.Username == "" {
		r.Header.Set("Authorization", "Bearer "+c.Token)
		return
	}
	pw := c.Password
	if pw == "" {
		pw = c.Token
	}
	r.SetBasicAuth(c.Username, pw)
}

// fields are the issue fields a search asks for.
func (j *jira) fields() []string {
	m := &j.cfg.Mapping
	out := []string{"updated"}
	for _, f := range []struct{ name, def string }{
		{"title", "summary"}, {"description", "description"}, {"state", "status"}, {"labels", "labels"},
		{"requester", "reporter"}, {"class", ""}, {"start", ""}, {"end", ""}, {"hosts", ""}, {"items", ""},
		{"impact", ""}, {"rollback_plan", ""},
	} {
		if v := m.field(f.name, f.def); v != "" {
			out = append(out, strings.SplitN(strings.TrimPrefix(v, "fields."), ".", 2)[0])
		}
	}
	return out
}

// Poll runs the JQL search for issues updated at or after since (to the
// minute, in the mapping's time zone, which must be the Jira user's),
// page by page, and reads each issue's approvals.
func (j *jira) Poll(ctx context.Context, since Cursor) ([]Record, Cursor, error) {
	c, err := j.client(j.auth)
	if err != nil {
		return nil, since, err
	}
	var conds []string
	if j.cfg.Filter != "" {
		conds = append(conds, "("+j.cfg.Filter+")")
	}
	if !since.UpdatedAt.IsZero() {
		conds = append(conds, fmt.Sprintf("updated >= %q", since.UpdatedAt.In(j.location()).Format("2006/01/02 15:04")))
	}
	jql := strings.Join(conds, " AND ") + " ORDER BY updated ASC"
	jql = strings.TrimSpace(jql)
	cur := since
	var out []Record
	token := ""
	for {
		body := map[string]any{"jql": jql, "fields": j.fields(), "maxResults": j.pageSize(jiraPageSize)}
		if token != "" {
			body["nextPageToken"] = token
		}
		var page struct {
			Issues        []json.RawMessage `json:"issues"`
			NextPageToken string            `json:"nextPageToken"`
			IsLast        bool              `json:"isLast"`
		}
		if _, err := c.do(ctx, request{method: http.MethodPost, url: joinURL(j.cfg.URL, "/rest/api/3/search/jql", nil), body: body}, &page); err != nil {
			return nil, since, err
		}
		for i, raw := range page.Issues {
			var issue object
			if err := json.Unmarshal(raw, &issue); err != nil {
				out = append(out, Record{Err: fmt.Errorf("issue at position %d: %w: %v", len(out)+i+1, ErrRejected, err)})
				continue
			}
			r := j.record(issue)
			if r.Err == nil {
				if err := j.approvals(ctx, c, &r); err != nil {
					return nil, since, err
				}
			}
			cur = cur.advance(r.UpdatedAt)
			out = append(out, r)
		}
		if page.IsLast || page.NextPageToken == "" {
			return out, cur, nil
		}
		token = page.NextPageToken
	}
}

// record maps one issue; approvals are read separately.
func (j *jira) record(issue object) Record {
	m := &j.cfg.Mapping
	fields, _ := issue["fields"].(object)
	get := func(name, def string) any {
		p := m.field(name, def)
		if p == "" {
			return nil
		}
		if v := lookup(fields, strings.TrimPrefix(p, "fields.")); v != nil {
			return v
		}
		return lookup(issue, p)
	}
	r := Record{
		Reference:    strings.TrimSpace(text(issue["key"])),
		Title:        strings.TrimSpace(text(get("title", "summary"))),
		Description:  text(get("description", "description")),
		Impact:       text(get("impact", "")),
		RollbackPlan: text(get("rollback_plan", "")),
		Approval:     ApprovalNone,
	}
	if r.Reference == "" {
		return Record{Err: rejectf(fmt.Sprintf("id %s", text(issue["id"])), "no key")}
	}
	if rep, ok := get("requester", "reporter").(object); ok {
		r.Requester = text(rep["emailAddress"])
		if r.Requester == "" {
			r.Requester = text(rep["displayName"])
		}
	} else {
		r.Requester = text(get("requester", "reporter"))
	}
	if j.cfg.URL != "" {
		r.Link = strings.TrimRight(j.cfg.URL, "/") + "/browse/" + url.PathEscape(r.Reference)
	}
	r.ExternalState = text(get("state", "status"))
	st, ok := m.state(r.ExternalState, jiraStates)
	if !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown status %q", r.ExternalState)}
	}
	r.State = st
	if r.Class = classOf(text(get("class", ""))); r.Class == "" {
		r.Class = ticket.Normal
	}
	loc := j.location()
	var err error
	if r.UpdatedAt, err = parseTime(text(fields["updated"]), loc); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "updated: %v", err)}
	}
	if r.Start, err = parseTime(text(get("start", "")), loc); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field("start", ""), err)}
	}
	if r.End, err = parseTime(text(get("end", "")), loc); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field("end", ""), err)}
	}
	m.scope(&r, list(get("hosts", "")), list(get("items", "")), list(get("labels", "labels")))
	return r
}

// jiraApprovalPage is the page size asked of the approvals endpoint, and
// jiraMaxApprovals bounds how many approvals of one request are read.
const (
	jiraApprovalPage = 50
	jiraMaxApprovals = 1000
)

// approvals sets a record's approval from its service desk approvals: any
// declined is rejected, all approved is approved, any pending is
// requested, none is none. An issue that is not a service desk request
// (404) has none.
func (j *jira) approvals(ctx context.Context, c *client, r *Record) error {
	type approval struct {
		FinalDecision string `json:"finalDecision"`
		Approvers     []struct {
			Approver struct {
				EmailAddress string `json:"emailAddress"`
				DisplayName  string `json:"displayName"`
			} `json:"approver"`
			ApproverDecision string `json:"approverDecision"`
		} `json:"approvers"`
	}
	// The endpoint is paged (start, limit, isLastPage): a decline on a
	// later page must still reject the request, so every page is read.
	var all []approval
	for start := 0; ; {
		var page struct {
			Values     []approval `json:"values"`
			IsLastPage *bool      `json:"isLastPage"`
		}
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(jiraApprovalPage)}}
		u := joinURL(j.cfg.URL, "/rest/servicedeskapi/request/"+url.PathEscape(r.Reference)+"/approval", q)
		_, err := c.do(ctx, request{method: http.MethodGet, url: u, allowNotFound: true}, &page)
		if errors.Is(err, errNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		all = append(all, page.Values...)
		if page.IsLastPage == nil || *page.IsLastPage || len(page.Values) == 0 || len(all) >= jiraMaxApprovals {
			break
		}
		start += len(page.Values)
	}
	page := struct{ Values []approval }{all}
	approved, pending := 0, 0
	r.Approvers = nil
	for _, v := range page.Values {
		switch strings.ToLower(v.FinalDecision) {
		case "declined", "rejected":
			r.Approval = ApprovalRejected
			return nil
		case "approved":
			approved++
			for _, a := range v.Approvers {
				if strings.EqualFold(a.ApproverDecision, "approved") {
					who := a.Approver.EmailAddress
					if who == "" {
						who = a.Approver.DisplayName
					}
					r.Approvers = append(r.Approvers, who)
				}
			}
		default:
			pending++
		}
	}
	switch {
	case pending > 0:
		r.Approval, r.Approvers = ApprovalRequested, nil
	case approved > 0:
		r.Approval = ApprovalApproved
	}
	return nil
}
