// Package ticket is driftwatch's change ticket: what is to change (title,
// description, impact, rollback plan, a scope of hosts and item patterns, a
// planned window in a time zone), who asked for it, and the workflow that
// takes it from a draft to a documented change.
//
// The workflow is
//
//	draft → submitted → reviewed → approved → implementing → implemented → documented
//
// with rejected (from submitted or reviewed) and cancelled (from any state
// before implemented) as the other ways out. Ticket.Apply takes one step
// and enforces who may take it: roles go viewer < engineer < approver <
// admin; users are the MSP's staff (no tenant) or customer users, who act
// only on their own tenant's customer changes. The requester can neither
// review nor approve their own ticket. Approval always needs the MSP's
// approver; a customer change also needs the customer's approver when the
// tenant's policy says customer_approval = true, and until both have
// approved the ticket stays where it was with PendingApproval naming the
// side still to approve. An emergency change may skip review (submitted →
// approved) and may start during a freeze period; nothing else may.
// Ticket.Allowed lists the actions an actor may take, for the buttons a
// page shows.
//
// Every step is a Transition in the ticket's History: who, as which role,
// when, from which state to which, and a comment (required to reject or
// cancel). Ticket.Amend changes what a ticket says; changing its scope,
// window, class or origin after a review withdraws the review and the
// approvals.
//
// The package does no I/O: the store keeps a ticket as its JSON form, and
// the API calls Apply and Amend and stores the result.
package ticket
