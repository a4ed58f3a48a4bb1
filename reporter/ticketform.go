package reporter

import (
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Question is a pre-deployment question the ticket form asks.
type Question struct {
	// ID names the answer's form field: FieldAnswerPrefix + ID.
	ID   string
	Text string
	Help string
	// Choices, when set, are the only answers (radio buttons), such as
	// "yes" and "no"; otherwise the answer is free text.
	Choices  []string
	Required bool
}

// Pre-deployment question IDs, matching the ticket's questions.
const (
	QuestionProblem         = "problem"
	QuestionTouches         = "touches"
	QuestionTestedInStaging = "tested_in_staging"
	QuestionStagingNotes    = "staging_notes"
	QuestionRollbackPath    = "rollback_path"
	QuestionEscalationOwner = "escalation_owner"
	QuestionDocsToUpdate    = "docs_to_update"
)

// DefaultQuestions are the pre-deployment questions every ticket is asked,
// each optional; a tenant's policy may require some.
var DefaultQuestions = []Question{
	{ID: QuestionProblem, Text: "What problem does the change solve?"},
	{ID: QuestionTouches, Text: "What does it touch beyond its scope?", Help: "dependent services, users, integrations"},
	{ID: QuestionTestedInStaging, Text: "Was it tried in staging?", Choices: []string{"yes", "no"}},
	{ID: QuestionStagingNotes, Text: "How was it tested, or why not?"},
	{ID: QuestionRollbackPath, Text: "How do you get back if the rollback plan fails?"},
	{ID: QuestionEscalationOwner, Text: "Who is called when it goes wrong?"},
	{ID: QuestionDocsToUpdate, Text: "Which support documents need updating afterwards?", Help: "one per line"},
}

// Ticket form field names.
const (
	FieldReference    = "reference"
	FieldTitle        = "title"
	FieldOrigin       = "origin"
	FieldClass        = "class"
	FieldDescription  = "description"
	FieldImpact       = "impact"
	FieldRollbackPlan = "rollback_plan"
	// FieldHosts are host names chosen from the list; FieldHostPatterns
	// more names or globs, one per line.
	FieldHosts        = "hosts"
	FieldHostPatterns = "host_patterns"
	FieldLabels       = "labels"
	FieldItemPatterns = "item_patterns"
	FieldWindowStart  = "window_start"
	FieldWindowEnd    = "window_end"
	FieldTimeZone     = "time_zone"
	FieldNotify       = "notify"
	// FieldAnswerPrefix + Question.ID names an answer's field.
	FieldAnswerPrefix = "answer."
)

// WindowLayout is how the form sends a window's start and end: a
// datetime-local value, in the window's time zone.
const WindowLayout = "2006-01-02T15:04"

// FieldErrors are a form's problems by field name.
type FieldErrors map[string]string

// Get returns the problem of a field, "" when it has none.
func (e FieldErrors) Get(name string) string { return e[name] }

// Error lists every problem, "field: problem" in field order, so that a
// FieldErrors can be returned as an error.
func (e FieldErrors) Error() string {
	names := make([]string, 0, len(e))
	for k := range e {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + ": " + e[k]
	}
	return strings.Join(parts, "; ")
}

// TicketDraft is a ticket as the form submits it.
type TicketDraft struct {
	TenantID  string
	Reference string
	Title     string
	// Origin is OriginInternal, OriginCustomer, or empty for the
	// collector's default (customer for a customer's user).
	Origin string
	// Class is one of Classes, or empty for normal.
	Class        string
	Description  string
	Impact       string
	RollbackPlan string
	// Hosts are host names or globs ("web-*").
	Hosts []string
	// Labels select hosts by label, "key=value", all of which a host
	// must carry.
	Labels []string
	// ItemPatterns are item key patterns, "kind:pattern".
	ItemPatterns []string
	// WindowStart and WindowEnd are as the form sends them (WindowLayout,
	// in TimeZone), empty for no window; Start and End are the parsed
	// times once the draft is valid.
	WindowStart, WindowEnd string
	TimeZone               string
	Start, End             time.Time
	// Notify are the email addresses of the people who need to know.
	Notify []string
	// Answers are the answers by question ID.
	Answers map[string]string
}

// HasHost reports whether a host name is in the draft's scope.
func (d *TicketDraft) HasHost(name string) bool {
	for _, h := range d.Hosts {
		if h == name {
			return true
		}
	}
	return false
}

// Answer returns the answer to a question.
func (d *TicketDraft) Answer(id string) string { return d.Answers[id] }

// splitList splits a textarea or comma list into trimmed, non-empty,
// unique entries in order.
func splitList(s string, sep func(rune) bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, sep) {
		f = strings.TrimSpace(f)
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

func isNewline(r rune) bool     { return r == '\n' || r == '\r' }
func isCommaOrLine(r rune) bool { return r == ',' || isNewline(r) }
func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

// ParseTicketForm reads the ticket form. It returns the draft, complete
// for redisplay, and its problems by field (nil when it is valid). The
// questions are those the form asked (nil: DefaultQuestions); a required
// one must be answered, and one with choices answered with one of them.
func ParseTicketForm(v url.Values, questions []Question) (TicketDraft, FieldErrors) {
	if questions == nil {
		questions = DefaultQuestions
	}
	d := TicketDraft{
		TenantID:     strings.TrimSpace(v.Get(FieldTenant)),
		Reference:    strings.TrimSpace(v.Get(FieldReference)),
		Title:        strings.TrimSpace(v.Get(FieldTitle)),
		Origin:       strings.TrimSpace(v.Get(FieldOrigin)),
		Class:        strings.TrimSpace(v.Get(FieldClass)),
		Description:  normalize(v.Get(FieldDescription)),
		Impact:       normalize(v.Get(FieldImpact)),
		RollbackPlan: normalize(v.Get(FieldRollbackPlan)),
		Labels:       splitList(v.Get(FieldLabels), isCommaOrLine),
		ItemPatterns: splitList(v.Get(FieldItemPatterns), isNewline),
		WindowStart:  strings.TrimSpace(v.Get(FieldWindowStart)),
		WindowEnd:    strings.TrimSpace(v.Get(FieldWindowEnd)),
		TimeZone:     strings.TrimSpace(v.Get(FieldTimeZone)),
		Notify:       splitList(v.Get(FieldNotify), func(r rune) bool { return isCommaOrLine(r) || r == ' ' || r == ';' }),
		Answers:      map[string]string{},
	}
	for _, h := range append(append([]string(nil), v[FieldHosts]...), splitList(v.Get(FieldHostPatterns), isCommaOrLine)...) {
		if h = strings.TrimSpace(h); h != "" && !d.HasHost(h) {
			d.Hosts = append(d.Hosts, h)
		}
	}
	errs := FieldErrors{}
	if d.Title == "" {
		errs[FieldTitle] = "A title is required"
	} else if utf8.RuneCountInString(d.Title) > 200 {
		errs[FieldTitle] = "The title is longer than 200 characters"
	}
	if d.Reference != "" && (len(d.Reference) > 64 || strings.ContainsAny(d.Reference, " \t\r\n")) {
		errs[FieldReference] = "A reference is one word of at most 64 characters, e.g. CHG0030001"
	}
	switch d.Origin {
	case "", OriginInternal, OriginCustomer:
	default:
		errs[FieldOrigin] = "Origin must be internal or customer"
	}
	switch d.Class {
	case "", ClassStandard, ClassNormal, ClassEmergency:
	default:
		errs[FieldClass] = "Class must be standard, normal or emergency"
	}
	if d.Description == "" {
		errs[FieldDescription] = "Say what changes and why"
	}
	if d.RollbackPlan == "" {
		errs[FieldRollbackPlan] = "A rollback plan is required"
	}
	if len(d.Hosts) == 0 && len(d.Labels) == 0 {
		errs[FieldHosts] = "Choose at least one host, give a host pattern or a label"
	}
	for _, l := range d.Labels {
		if k, _, ok := strings.Cut(l, "="); !ok || strings.TrimSpace(k) == "" {
			errs[FieldLabels] = "Label " + oneLine(l, 60) + " is not key=value"
			break
		}
	}
	if len(d.ItemPatterns) == 0 {
		errs[FieldItemPatterns] = "Give at least one item pattern, e.g. file:/etc/nginx/**"
	}
	for _, p := range d.ItemPatterns {
		if k, rest, ok := strings.Cut(p, ":"); !ok || k == "" || rest == "" {
			errs[FieldItemPatterns] = "Pattern " + oneLine(p, 60) + " has no kind: write kind:pattern, e.g. package:openssl"
			break
		}
	}
	for _, a := range d.Notify {
		if at := strings.IndexByte(a, '@'); at <= 0 || at == len(a)-1 {
			errs[FieldNotify] = oneLine(a, 60) + " is not an email address"
			break
		}
	}
	parseWindow(&d, errs)
	for _, q := range questions {
		a := normalize(v.Get(FieldAnswerPrefix + q.ID))
		switch {
		case a == "" && q.Required:
			errs[FieldAnswerPrefix+q.ID] = "This question needs an answer"
		case a != "" && len(q.Choices) > 0 && !contains(q.Choices, a):
			errs[FieldAnswerPrefix+q.ID] = "Answer " + strings.Join(q.Choices, " or ")
		case a != "":
			d.Answers[q.ID] = a
		}
	}
	if len(errs) > 0 {
		d.Start, d.End = time.Time{}, time.Time{}
		return d, errs
	}
	return d, nil
}

// parseWindow checks the window: none at all, or a start, an end after it
// and a known time zone.
func parseWindow(d *TicketDraft, errs FieldErrors) {
	if d.WindowStart == "" && d.WindowEnd == "" {
		return
	}
	loc := time.UTC
	if d.TimeZone == "" {
		errs[FieldTimeZone] = "Choose the window's time zone"
	} else if l, err := time.LoadLocation(d.TimeZone); err != nil {
		errs[FieldTimeZone] = "Unknown time zone " + oneLine(d.TimeZone, 60)
	} else {
		loc = l
	}
	if d.WindowStart == "" {
		errs[FieldWindowStart] = "A window needs a start"
	} else if t, err := time.ParseInLocation(WindowLayout, d.WindowStart, loc); err != nil {
		errs[FieldWindowStart] = "Give the start as 2006-01-02T15:04"
	} else {
		d.Start = t
	}
	if d.WindowEnd == "" {
		errs[FieldWindowEnd] = "A window needs an end"
	} else if t, err := time.ParseInLocation(WindowLayout, d.WindowEnd, loc); err != nil {
		errs[FieldWindowEnd] = "Give the end as 2006-01-02T15:04"
	} else {
		d.End = t
	}
	if !d.Start.IsZero() && !d.End.IsZero() && !d.End.After(d.Start) {
		errs[FieldWindowEnd] = "The window must end after it starts"
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
