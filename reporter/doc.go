// Package reporter renders what the collector knows for people: the web
// pages of the report, baseline documentation, the weekly digest and
// escalation alerts, and charts. It only renders: the collector's handlers
// fill the view models declared here (plain structs, the contract between
// the two) from the store, and the reporter turns them into HTML, text,
// Markdown, CSV or SVG. It imports nothing of the collector.
//
// # Web pages
//
// New parses the embedded templates once; a Renderer has one method per
// page (Overview, Inbox, Drift, Host, Tickets, Ticket, NewTicket,
// ChangeLog, Search, Metrics, Audit, Outbox, Error, SignIn,
// Documentation), each taking the page's view model, which embeds Page:
// the signed-in user, the tenant switcher, flash messages, the CSRF token
// that every form posts, and Now, the moment relative times are measured
// from (never the clock, so output is reproducible). Each method renders
// the whole page before writing any of it, so a failure writes nothing.
//
// The pages are served under a base path (DefaultBasePath, "/ui"); the
// Route constants are their http.ServeMux patterns and Links builds their
// URLs, escaping every value. The style sheet, the small script and the
// icon are embedded and served by Renderer.Static. The pages need no
// script, load nothing from elsewhere, and follow ContentSecurityPolicy:
// no inline script or style. Forms post field names given by the Field
// constants; ParseInboxFilter, ParseTicketFilter and ParseTicketForm read
// them back with errors that name the field.
//
// # Hostile text
//
// Item keys, file content, command output and ticket fields come from
// hosts and people and may be hostile. Every value is escaped for its
// context (html/template for the pages; the few rows written in Go use
// the same escaping), URLs built from values use url.PathEscape and
// url.QueryEscape, and links from integrations are shown only when they
// are http or https. Characters that hide or disguise text (control
// characters, bidirectional overrides and isolates, zero-width characters)
// and bytes that are not UTF-8 are shown as visible markers: see
// VisibleText.
//
// # Documents and mail
//
// HostDocumentation and TenantDocumentation are a host's or a tenant's
// baseline documentation, rendered as a printable page, as standalone HTML
// (HostDocumentationHTML, with StandaloneCSP) and as Markdown
// (WriteHostMarkdown, WriteTenantMarkdown). Digest and Alert are the
// emails, as HTML with inline styles only (DigestHTML, AlertHTML) and as
// plain text, with DigestSubject and AlertSubject for their subject lines;
// their links are absolute, built from the base URL in the view model.
// WriteChangeLogCSV exports the change log with formula-injection
// protection. ParseUnifiedDiff reads the diffs baseline.UnifiedDiff
// writes, for the unified and side-by-side views.
package reporter
