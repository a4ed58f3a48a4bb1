// Package connector brings change requests kept outside driftwatch — in
// ServiceNow, Jira Service Management, HaloPSA, ConnectWise Manage or any
// system that can post a webhook — into a tenant's change tickets, so
// that drift is reconciled against them.
//
// A Source reads one external system: Poll returns the records updated
// since a Cursor, already mapped to driftwatch's vocabulary (a Record:
// reference, title, workflow state and approval, window, host scope, item
// patterns, requester, link). A Syncer imports them into the tenant's
// tickets through the Tickets interface (ManagerTickets keeps them with
// changes.Manager): a new reference creates a ticket, a changed record
// updates it, an unchanged one is left alone (a content hash per
// reference is kept in a StateStore with the cursor), and a record that
// cannot be mapped is rejected by name while the rest are imported. The
// Syncer backs off after errors, honours a 429's Retry-After, and keeps a
// Status (last success, last error, counts) for the web report's
// stale-connector display.
//
// Webhook is the inbound side: an http.Handler that checks an HMAC-SHA256
// signature (constant-time) and a replay window, maps the JSON body to
// records with the connector's field mapping and imports them through the
// same Syncer. Jira's signed webhooks use it with Jira's payload.
//
// The collector keeps each connector's state in its store (StoreState),
// shared by every collector on it, and polls a connector only while it
// holds the connector's lease (StoreLease), so that of several collectors
// one polls at a time. Healths judges which connectors are stale.
//
// Credentials are read from a file or an environment variable at every
// poll, so that a rotated secret is picked up, or, given through the API,
// kept sealed with AES-256-GCM (Sealer) under a key file of the
// collector's; they are never logged or put in an error. FromAPI checks a
// connector given through the API as the configuration file's blocks are
// checked.
package connector
