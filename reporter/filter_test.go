package reporter

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseInboxFilter(t *testing.T) {
	q := url.Values{"tenant": {"t-acme"}, "host": {"web-*"}, "label": {"role=web"}, "level": {"3", "2", "3"},
		"verdict": {"unauthorized", "frozen"}, "from": {"2024-11-01"}, "to": {"2024-11-20"}, "item": {"file:/etc/ssh/*"}, "status": {"all"}}
	f, err := ParseInboxFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	want := InboxFilter{TenantID: "t-acme", Host: "web-*", Label: "role=web", Levels: []Level{3, 2}, Verdicts: []Verdict{"unauthorized", "frozen"},
		From: "2024-11-01", To: "2024-11-20", Item: "file:/etc/ssh/*", Status: "all"}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}
	// The query the form sends back parses to the same filter.
	again, err := ParseInboxFilter(f.Query())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, again); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	from, to := f.Range(berlin)
	if !from.Equal(time.Date(2024, 11, 1, 0, 0, 0, 0, berlin)) || !to.Equal(time.Date(2024, 11, 21, 0, 0, 0, 0, berlin)) {
		t.Errorf("range %v – %v, want 1 Nov 00:00 to 21 Nov 00:00 Berlin", from, to)
	}
}

func TestParseInboxFilterErrors(t *testing.T) {
	tests := []struct {
		q    url.Values
		want string
	}{
		{url.Values{"level": {"4"}}, `level "4": want 1, 2 or 3`},
		{url.Values{"level": {"high"}}, `level "high"`},
		{url.Values{"verdict": {"ok"}}, `verdict "ok": want one of unauthorized, frozen`},
		{url.Values{"label": {"web"}}, `label "web": want key=value`},
		{url.Values{"from": {"20.11.2024"}}, `from "20.11.2024": want a date as 2006-01-02`},
		{url.Values{"from": {"2024-11-20"}, "to": {"2024-11-01"}}, "to 2024-11-01 is before from 2024-11-20"},
		{url.Values{"status": {"gone"}}, `status "gone"`},
	}
	for _, tt := range tests {
		_, err := ParseInboxFilter(tt.q)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "inbox filter: ") {
			t.Errorf("ParseInboxFilter(%v) = %v, want an error naming the field: %q", tt.q, err, tt.want)
		}
	}
}

func TestParseTicketFilter(t *testing.T) {
	f, err := ParseTicketFilter(url.Values{"state": {"approved"}, "q": {" CHG-1 "}, "tenant": {"t"}})
	if err != nil || f != (TicketFilter{TenantID: "t", State: StateApproved, Query: "CHG-1"}) {
		t.Errorf("ParseTicketFilter = %+v, %v", f, err)
	}
	if _, err := ParseTicketFilter(url.Values{"state": {"done"}}); err == nil {
		t.Error("state done accepted")
	}
}
