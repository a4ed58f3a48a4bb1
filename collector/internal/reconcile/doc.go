// Package reconcile matches drift against change tickets: each drift item
// (a changed item on a host, observed at a time) gets a verdict from the
// tickets whose scope covers it, and an escalation level from the
// tenant's rules.
//
// # Which tickets cover an item
//
// A ticket covers an item when its host selector covers the host (the host
// is named, a host glob matches it, or the host carries every one of the
// ticket's labels) and one of its item patterns matches the item's key
// (see package pattern). Tickets in any state cover; their state decides
// what they make of the item.
//
// # Verdicts
//
// Each covering ticket alone gives one of these, judged at the time the
// change was observed against the ticket's window widened by the tenant's
// grace period on both sides (bounds included; the window is read in its
// own time zone, so daylight saving changes are respected):
//
//   - authorized: the ticket is approved, implementing, implemented or
//     documented, and the change was observed inside its window, outside
//     any freeze period unless the ticket is an emergency change;
//   - frozen: as authorized, but a freeze period held and the ticket is
//     not an emergency change;
//   - unapproved_ticket: inside the window, but the ticket is a draft,
//     submitted or reviewed (approval may still be pending);
//   - out_of_window: the ticket is approved, but the change was observed
//     before or after its window and grace;
//   - unauthorized: the ticket was rejected or cancelled, or is neither
//     approved nor in its window.
//
// The item's verdict is decided by precedence:
//
//  1. authorized, when any covering ticket authorizes it;
//  2. frozen, when the change was observed during a freeze period, whether
//     or not a ticket covers it: in a freeze no change is authorized but
//     an emergency change;
//  3. unapproved_ticket, when a ticket not yet approved covers it and its
//     window: the change was probably made under that ticket too early;
//  4. out_of_window, when only approved tickets whose windows missed it
//     cover it (the nearest window decides);
//  5. unauthorized otherwise, including when no ticket covers it.
//
// The result lists every covering ticket, the deciding one first, and
// explains the first MaxMatches of them with their own verdicts and
// reasons: an engineer sees not only the verdict but why each ticket did
// or did not authorize the change.
//
// The verdict follows a ticket's current state: a ticket approved after
// the change was observed (approved late) authorizes it when judged again;
// a ticket cancelled after the change no longer does. Engine.Reevaluate
// judges again only the items a changed ticket can affect and returns
// those whose verdict changed, with a reason for the item's history.
//
// # Escalation
//
// The tenant's escalation rules (policy.Policy.Rules) are tried in order
// and the first that matches sets the level: 1 (log it), 2 (escalate
// internally), 3 (full escalation). Each result records the rule. The
// defaults (policy.DefaultEscalation) log authorized changes, escalate
// unauthorized or frozen changes to authentication, sudo, SSH, PAM,
// account, firewall and audit configuration fully, and packages,
// services and freeze violations internally.
//
// # Metrics
//
// Compute summarizes a tenant's drift records over a period: changes
// observed, the authorized share, unauthorized changes by level, mean time
// to reconcile, and the age of open drift.
//
// The package is pure logic: it reads tickets and a policy and does no
// I/O.
package reconcile
