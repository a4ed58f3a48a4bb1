// Package web serves the collector's web report: the pages package
// reporter renders, filled from the store, behind a sign-in.
//
// # Who sees what
//
// People sign in with an email address and a password (hashed with
// argon2id; set with "driftwatch-collector user password"). Each user has
// one role, viewer, engineer, approver or admin, in one tenant, or in none
// for the MSP's own staff, who see every tenant; a customer's user sees
// only their tenant. Every handler resolves what it shows through the
// signed-in user's tenants: a host, drift item or ticket of another tenant
// is "not found" (404), an action the role does not allow is refused
// (403). Changes go through changes.Manager, which writes the tenant's
// audit log.
//
// # Sessions and forms
//
// A session is a random secret in a cookie (HttpOnly, SameSite=Lax,
// Secure over TLS or when the collector's public URL is https); the store
// keeps its SHA-256, its CSRF token and its expiry, so that every
// collector on the database knows it and signing out ends it everywhere.
// A session ends after Options.SessionIdle without use or
// Options.SessionLifetime after sign-in, whichever comes first. Every form
// that posts carries the session's synchronizer token (the sign-in form a
// token bound to a cookie of its own), and requests from other origins
// are refused by their Sec-Fetch-Site and Origin headers as well.
//
// Failed sign-ins are counted in the store per account and per client
// address; beyond Options.AccountLimit or Options.AddressLimit failures
// within their window, sign-in is refused (429) until the oldest counted
// failure leaves the window, without checking the password. The client
// address is the connection's peer, or, when the peer is one of
// Options.TrustedProxies, the nearest address in X-Forwarded-For that is
// not a trusted proxy (see Handler.clientAddr).
//
// # Time zones
//
// Pages show times in the zone the user chose on the settings page, else
// the default of the tenant the page is about, else Options.Location
// (UTC), and name it at the foot of the page; the change log's CSV gives
// each time with its offset.
//
// # Speed
//
// Counting a tenant's open drift reads every outstanding item, so slow
// counts are kept (counts.go); a tenant's part of the overview (its hosts,
// counts, heartbeats, mail health) is reused for overviewTTL, so that a
// reload renders without reading; a change made here drops both.
//
// # Headers
//
// Every response carries reporter.ContentSecurityPolicy (the standalone
// documentation its own), X-Frame-Options: DENY, X-Content-Type-Options:
// nosniff, Referrer-Policy: same-origin and Cross-Origin-Opener-Policy;
// pages with data are not cached (Cache-Control: no-store).
package web
