package notify

import (
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Content is a rendered email: its subject and its two bodies.
type Content struct {
	Subject string
	// HTML is the rich body; Text the plain one, which every email has.
	HTML string
	Text string
}

// DigestData is what a digest reports: every change of one period.
type DigestData struct {
	Tenant store.Tenant
	Period Period
	// Label names the period (2026-W45).
	Label  string
	Window Window
	// Location is the tenant's zone, for showing times.
	Location *time.Location
	// Changes are every change of the window, oldest first; none for a
	// quiet period.
	Changes []Change
	// Metrics are the tenant's figures for the window; nil when there is
	// no MetricsSource or it failed.
	Metrics *Metrics
	// Recipient is whom this copy is for.
	Recipient Recipient
}

// Recipient is the one person a rendered message goes to, with the signed
// token of their preference and unsubscribe links.
type Recipient struct {
	// Address is as the policy writes it.
	Address string
	// Token speaks for the recipient on the email's list (Signer.Sign);
	// empty in a preview without a key.
	Token string
}

// AlertData is what a level 3 alert reports: changes to one item on one
// host.
type AlertData struct {
	Tenant store.Tenant
	Host   string
	HostID string
	Item   string
	// Window is the span the changes fell in.
	Window Window
	// Update is set when the changes followed a first alert about the same
	// item in the same window.
	Update   bool
	Location *time.Location
	// Changes are oldest first; their count is the number of changes the
	// message stands for.
	Changes []Change
	// Recipient is whom this copy is for.
	Recipient Recipient
}

// SummaryData is what a level 2 summary reports.
type SummaryData struct {
	Tenant   store.Tenant
	Window   Window
	Location *time.Location
	// Changes are the level 2 changes of the window, oldest first.
	Changes []Change
	// Recipient is whom this copy is for.
	Recipient Recipient
}

// Renderer renders the bodies of notification emails. It only renders: it
// does no I/O, and a call may come from any goroutine. An error is taken
// as permanent for that email: it is logged and the email is planned again
// on the next tick.
type Renderer interface {
	// Digest renders a scheduled digest ("This week in changes").
	Digest(d DigestData) (Content, error)
	// Alert renders a level 3 alert for the on-call address.
	Alert(a AlertData) (Content, error)
	// Summary renders a level 2 summary for the tech lead.
	Summary(s SummaryData) (Content, error)
}
