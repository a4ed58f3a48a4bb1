package connector

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// haloPSA reads HaloPSA change requests: the tickets of the configured
// ticket types (requesttype), listed with GET /api/Tickets (pageinate,
// page_no, page_size, lastupdatefromdate), each read in full with
// GET /api/Tickets/{id}?includedetails=true for its custom fields,
// assets, tags and approval state. It logs in with an OAuth2
// client-credentials token from /auth/token (scope "all"), kept until
// it expires; a token the API refuses is renewed once per poll.
type haloPSA struct {
	base

	// mu guards the token.
	mu       sync.Mutex
	token    string
	expires  time.Time
	tokenFor [sha256.Size]byte // the client ID and secret it was issued for
}

func newHaloPSA(cfg Config, opts Options) *haloPSA {
	return &haloPSA{base: base{cfg: cfg, opts: opts}}
}

// haloStates are the statuses of a HaloPSA change ticket type, by name,
// and Halo's built-in status IDs (1 New, 2 In Progress, 9 Closed).
var haloStates = map[string]ticket.State{
	"new": ticket.Draft, "1": ticket.Draft, "draft": ticket.Draft,
	"submitted": ticket.Submitted, "pending review": ticket.Submitted, "in review": ticket.Submitted,
	"awaiting approval": ticket.Reviewed, "pending approval": ticket.Reviewed, "awaiting cab": ticket.Reviewed,
	"approved": ticket.Approved, "scheduled": ticket.Approved,
	"in progress": ticket.Implementing, "2": ticket.Implementing, "implementing": ticket.Implementing,
	"completed": ticket.Implemented, "implemented": ticket.Implemented, "resolved": ticket.Implemented,
	"closed": ticket.Documented, "9": ticket.Documented,
	"rejected": ticket.Rejected, "declined": ticket.Rejected,
	"cancelled": ticket.Cancelled, "canceled": ticket.Cancelled, "withdrawn": ticket.Cancelled,
}

// haloApprovals are the values of an approval field named in the
// mapping (a custom field such as a "CAB decision" list).
var haloApprovals = map[string]Approval{
	"": ApprovalNone, "none": ApprovalNone, "not required": ApprovalNone, "n/a": ApprovalNone,
	"pending": ApprovalRequested, "requested": ApprovalRequested, "awaiting approval": ApprovalRequested,
	"approved": ApprovalApproved, "approve": ApprovalApproved,
	"rejected": ApprovalRejected, "declined": ApprovalRejected, "reject": ApprovalRejected,
}

// Defaults of the HaloPSA connector.
const (
	haloPageSize = 50
	// haloItemsField is the custom field that lists item patterns.
	haloItemsField = "CFDriftwatchItems"
	// haloRefPrefix turns a ticket ID into a reference.
	haloRefPrefix = "HALO-"
	// haloTokenSlack renews a token this long before it expires.
	haloTokenSlack = time.Minute
)

// haloTime is the layout of lastupdatefromdate: UTC, no offset.
const haloTime = "2006-01-02T15:04:05"

func (h *haloPSA) auth(_ Credentials, r *http.Request) {
	h.mu.Lock()
	tok := h.token
	h.mu.Unlock()
	r.Header.Set("Authorization", "Bearer "+tok)
}

// tokenURL is the OAuth token endpoint: auth_url, else /auth/token under
// the instance URL.
func (h *haloPSA) tokenURL() string {
	if h.cfg.AuthURL != "" {
		return h.cfg.AuthURL
	}
	return joinURL(h.cfg.URL, "/auth/token", nil)
}

// Poll lists the change tickets updated at or after since (Halo keeps
// times in UTC), oldest first, page by page, and reads each in full.
func (h *haloPSA) Poll(ctx context.Context, since Cursor) ([]Record, Cursor, error) {
	if detail := CheckFilter(KindHaloPSA, h.cfg.Filter); detail != "" {
		return nil, since, fmt.Errorf("connector %s: %s", h.cfg.Name, detail)
	}
	c, err := h.client(h.auth)
	if err != nil {
		return nil, since, err
	}
	if c.creds.ClientID == "" || c.creds.ClientSecret == "" {
		return nil, since, fmt.Errorf("connector %s: %w: the credentials need \"client_id\" and \"client_secret\" of a HaloPSA API application", h.cfg.Name, ErrAuth)
	}
	if err := h.login(ctx, c, false); err != nil {
		return nil, since, err
	}
	renewed := false
	get := func(r request, out any) error {
		_, err := c.do(ctx, r, out)
		if errors.Is(err, ErrAuth) && !renewed {
			renewed = true
			h.opts.log().Info("connector token refused, renewing it", zap.String("connector", c.name))
			if err := h.login(ctx, c, true); err != nil {
				return err
			}
			_, err = c.do(ctx, r, out)
		}
		return err
	}
	size := h.pageSize(haloPageSize)
	cur := since
	var out []Record
	for page := 1; ; page++ {
		q := url.Values{
			"pageinate": {"true"},
			"page_size": {strconv.Itoa(size)},
			"page_no":   {strconv.Itoa(page)},
			"order":     {"last_update"},
			"orderdesc": {"false"},
		}
		if types := strings.ReplaceAll(h.cfg.Filter, " ", ""); types != "" {
			q.Set("requesttype", types)
		}
		if !since.UpdatedAt.IsZero() {
			q.Set("lastupdatefromdate", since.UpdatedAt.UTC().Format(haloTime))
		}
		var list struct {
			RecordCount int               `json:"record_count"`
			Tickets     []json.RawMessage `json:"tickets"`
		}
		if err := get(request{method: http.MethodGet, url: joinURL(h.cfg.URL, "/api/Tickets", q)}, &list); err != nil {
			return nil, since, err
		}
		for i, raw := range list.Tickets {
			pos := (page-1)*size + i + 1
			var head struct {
				ID         json.Number `json:"id"`
				LastUpdate string      `json:"last_update"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
				why := "no id"
				if err != nil {
					why = err.Error()
				}
				out = append(out, Record{Err: fmt.Errorf("ticket at position %d: %w: %s", pos, ErrRejected, why)})
				continue
			}
			if t, err := parseTime(head.LastUpdate, time.UTC); err == nil {
				cur = cur.advance(t)
			}
			var detail object
			u := joinURL(h.cfg.URL, "/api/Tickets/"+url.PathEscape(head.ID.String()), url.Values{"includedetails": {"true"}})
			err := get(request{method: http.MethodGet, url: u, allowNotFound: true}, &detail)
			if errors.Is(err, errNotFound) {
				continue // deleted since it was listed
			}
			if err != nil {
				return nil, since, err
			}
			r := h.record(detail)
			cur = cur.advance(r.UpdatedAt)
			out = append(out, r)
		}
		if len(list.Tickets) < size || page*size >= list.RecordCount {
			return out, cur, nil
		}
	}
}

// login gets a token unless the one kept is still good for the same
// credentials; force gets a new one regardless.
func (h *haloPSA) login(ctx context.Context, c *client, force bool) error {
	key := sha256.Sum256([]byte(c.creds.ClientID + "\x00" + c.creds.ClientSecret))
	now := h.opts.now()
	h.mu.Lock()
	good := h.token != "" && h.tokenFor == key && now.Before(h.expires.Add(-haloTokenSlack))
	h.mu.Unlock()
	if good && !force {
		return nil
	}
	tok, ttl, err := h.fetchToken(ctx, c)
	if err != nil {
		h.mu.Lock()
		h.token = ""
		h.mu.Unlock()
		return err
	}
	h.mu.Lock()
	h.token, h.expires, h.tokenFor = tok, now.Add(ttl), key
	h.mu.Unlock()
	return nil
}

// fetchToken asks the token endpoint for a client-credentials token. A
// refused client (HTTP 400 invalid_client, 401, 403) is ErrAuth; a 429
// is waited out as the API client does.
func (h *haloPSA) fetchToken(ctx context.Context, c *client) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.creds.ClientID},
		"client_secret": {c.creds.ClientSecret},
		"scope":         {"all"},
	}.Encode()
	u := h.tokenURL()
	where := fmt.Sprintf("%s: POST %s", c.name, redactURL(u))
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
		if err != nil {
			return "", 0, fmt.Errorf("%s: %s", where, c.creds.redact(err.Error()))
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := c.opts.httpClient().Do(req)
		if err != nil {
			msg := c.creds.redact(err.Error())
			c.opts.log().Warn("connector token request failed", zap.String("connector", c.name), zap.String("url", redactURL(u)), zap.String("error", msg))
			return "", 0, fmt.Errorf("%s: %s", where, msg)
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := retryAfter(resp.Header.Get("Retry-After"), c.opts.now())
			if attempt >= maxRetries || wait > maxRetryWait {
				return "", 0, fmt.Errorf("%s: %w", where, &RateLimitError{RetryAfter: wait, URL: redactURL(u)})
			}
			if err := c.opts.sleep(ctx, wait); err != nil {
				return "", 0, fmt.Errorf("%s: wait out rate limit: %w", where, err)
			}
			continue
		case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			c.opts.log().Warn("connector credentials refused", zap.String("connector", c.name), zap.String("url", redactURL(u)), zap.Int("status", resp.StatusCode))
			return "", 0, fmt.Errorf("%w: %s: token request: %s: %s", ErrAuth, where, resp.Status, c.creds.redact(snippet(data)))
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			c.opts.log().Warn("connector token request failed", zap.String("connector", c.name), zap.String("url", redactURL(u)), zap.Int("status", resp.StatusCode))
			return "", 0, fmt.Errorf("%s: token request: %s: %s", where, resp.Status, c.creds.redact(snippet(data)))
		case rerr != nil:
			return "", 0, fmt.Errorf("%s: read token response: %w", where, rerr)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" {
			return "", 0, fmt.Errorf("%s: the token response holds no access_token", where)
		}
		ttl := time.Duration(tok.ExpiresIn) * time.Second
		if ttl <= 0 {
			ttl = time.Hour
		}
		return tok.AccessToken, ttl, nil
	}
}

// psaField looks a mapped field up in a Halo or ConnectWise object: a
// (dotted) JSON path first, then a custom field of that name, label or
// caption.
func psaField(o object, field string) any {
	if field == "" {
		return nil
	}
	if v := lookup(o, field); v != nil {
		return v
	}
	for _, list := range []string{"customfields", "customFields"} {
		cfs, _ := o[list].([]any)
		for _, e := range cfs {
			cf, _ := e.(object)
			for _, k := range []string{"name", "label", "caption"} {
				if n, _ := cf[k].(string); n != "" && strings.EqualFold(n, field) {
					if d, ok := cf["display"].(string); ok && d != "" {
						return d
					}
					return cf["value"]
				}
			}
		}
	}
	return nil
}

// haloDate reads a Halo date; Halo writes 1900-01-01 (or 0001-01-01) for
// a date that is not set. A time of day kept apart ("22:00") is added to
// a date at midnight.
func haloDate(v any, clock any) (time.Time, error) {
	t, err := parseTime(text(v), time.UTC)
	if err != nil || t.IsZero() || t.Year() <= 1901 {
		return time.Time{}, err
	}
	if hm := strings.TrimSpace(text(clock)); hm != "" && t.Hour() == 0 && t.Minute() == 0 {
		if d, err := time.Parse("15:04", hm); err == nil {
			t = t.Add(time.Duration(d.Hour())*time.Hour + time.Duration(d.Minute())*time.Minute)
		}
	}
	return t, nil
}

// record maps one ticket as GET /api/Tickets/{id} returns it; a ticket
// that does not map has Err set.
func (h *haloPSA) record(o object) Record {
	m := &h.cfg.Mapping
	get := func(name, def string) any { return psaField(o, m.field(name, def)) }
	id := strings.TrimSpace(text(o["id"]))
	if id == "" {
		return Record{Err: rejectf("without id", "no id")}
	}
	r := Record{
		Reference:    haloRefPrefix + id,
		Title:        strings.TrimSpace(text(get("title", "summary"))),
		Description:  strings.TrimSpace(text(get("description", "details"))),
		Impact:       strings.TrimSpace(text(get("impact", "impactdescription"))),
		RollbackPlan: strings.TrimSpace(text(get("rollback_plan", "backoutplan"))),
		Requester:    strings.TrimSpace(text(get("requester", "user_email"))),
	}
	if f, ok := m.Fields["reference"]; ok {
		if ref := strings.TrimSpace(text(psaField(o, f))); ref != "" {
			r.Reference = ref
		}
	}
	if r.Requester == "" {
		r.Requester = strings.TrimSpace(text(o["reportedby"]))
	}
	if h.cfg.URL != "" {
		r.Link = strings.TrimRight(h.cfg.URL, "/") + "/ticket?id=" + url.QueryEscape(id)
	}
	if site := strings.TrimSpace(text(o["site_name"])); site != "" {
		client := strings.TrimSpace(text(o["client_name"]))
		where := "Site: " + site
		if client != "" {
			where = "Client: " + client + ", site: " + site
		}
		r.Description = strings.TrimLeft(r.Description+"\n\n"+where, "\n")
	}
	stateV := get("state", "status_name")
	r.ExternalState = strings.TrimSpace(text(stateV))
	if r.ExternalState == "" {
		r.ExternalState = text(o["status_id"])
	}
	st, ok := m.state(r.ExternalState, haloStates)
	if !ok {
		st, ok = m.state(text(o["status_id"]), haloStates)
	}
	if !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown status %q (status_id %s)", r.ExternalState, text(o["status_id"]))}
	}
	r.State = st
	ap, err := h.approval(o)
	if err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%v", err)}
	}
	r.Approval = ap
	if r.Class = classOf(text(get("class", "tickettype_name"))); r.Class == "" {
		r.Class = ticket.Normal
	}
	if r.UpdatedAt, err = parseTime(text(get("updated", "last_update")), time.UTC); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field("updated", "last_update"), err)}
	}
	startF, endF := m.field("start", "startdate"), m.field("end", "targetdate")
	if r.Start, err = haloDate(psaField(o, startF), o["starttime"]); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", startF, err)}
	}
	if r.End, err = haloDate(psaField(o, endF), o["targettime"]); err != nil {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", endF, err)}
	}
	var hosts []string
	if f, ok := m.Fields["hosts"]; ok {
		hosts = list(psaField(o, f))
	} else {
		assets, _ := o["assets"].([]any)
		for _, a := range assets {
			ao, _ := a.(object)
			name := strings.TrimSpace(text(ao["key_field"]))
			if name == "" {
				name = strings.TrimSpace(text(ao["inventory_number"]))
			}
			if name != "" {
				hosts = append(hosts, name)
			}
		}
	}
	labels := list(get("labels", "tags"))
	if len(labels) == 0 {
		labels = list(o["ticket_tags"])
	}
	m.scope(&r, hosts, list(get("items", haloItemsField)), labels)
	return r
}

// approval reads a ticket's approval: from the mapping's approval field
// when one is set, else from Halo's approval process: a failed approval
// is rejected, a process still at a step is requested, a finished one
// approved, and a ticket without a process has none.
func (h *haloPSA) approval(o object) (Approval, error) {
	m := &h.cfg.Mapping
	if f, ok := m.Fields["approval"]; ok {
		v := strings.TrimSpace(text(psaField(o, f)))
		a, ok := m.approval(v, haloApprovals)
		if !ok {
			return "", fmt.Errorf("unknown approval %q in %s", v, f)
		}
		return a, nil
	}
	truth := func(k string) bool { b, _ := o[k].(bool); return b }
	switch {
	case truth("faultapprovalfailed"):
		return ApprovalRejected, nil
	case !truth("faultapprovalexists"):
		return ApprovalNone, nil
	case strings.TrimSpace(text(o["approval_process_step_name"])) != "":
		return ApprovalRequested, nil
	}
	return ApprovalApproved, nil
}

// CheckFilter checks a connector's filter for its kind and returns what is
// wrong with it, or "". A HaloPSA connector needs the IDs of the change
// request ticket types it reads ("12" or "12,14"), so that incidents and
// other tickets are never taken for change requests.
func CheckFilter(kind, filter string) string {
	if kind != KindHaloPSA {
		return ""
	}
	ids := strings.Split(strings.ReplaceAll(filter, " ", ""), ",")
	for _, id := range ids {
		if n, err := strconv.Atoi(id); err != nil || n <= 0 {
			return fmt.Sprintf("filter of a halopsa connector lists the IDs of the change request ticket types to read, such as \"12\" or \"12,14\", not %q.", filter)
		}
	}
	return ""
}
