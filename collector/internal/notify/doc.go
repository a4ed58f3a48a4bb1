// Package notify sends the collector's drift emails: the scheduled digest
// ("This week in changes"), level 3 escalation alerts and level 2
// summaries.
//
// A tenant's Policy says who gets what and when: a cron schedule in the
// tenant's time zone for the digest and the period it covers; the on-call
// addresses that get level 3 changes at once, coalesced per host and item
// within a window; the tech lead who gets level 2 changes in a summary
// every hour; quiet hours that hold everything below level 3. Settings are
// the written form, from a notify block of the configuration or the API,
// and Compile checks them.
//
// Planning is pure: Plan and PlanDigest turn changes, a policy and the time
// into the emails due, each named by a dedupe key. The Notifier runs in
// every collector: each tick it claims the digest run that is due in the
// store (so one collector fires it), enqueues what is planned in the
// store's outbox (where a dedupe key is unique per tenant, so an email is
// queued once however many collectors plan it), and drains the outbox:
// it claims due emails under a lease, sends them through a Mailer (SMTP,
// with go-mail) and marks them sent, or records the server's answer and
// retries with exponential backoff, or gives them up.
//
// Delivery is at least once: an email is marked sent after the server
// accepted it, so a collector that dies in between leaves it to be sent
// again when its lease ends; it keeps its Message-ID, which lets mail
// systems drop the copy. A collector told to stop gives the batch in
// flight SendGrace to be answered, so that a clean stop sends nothing
// twice.
//
// Run ticks every Interval, and also at the instants a tick foresaw an
// alert falling due (NextDue), so that a level 3 alert goes out when its
// hold ends.
//
// Each planned email is queued as one message per recipient, with its own
// dedupe key (RecipientKey), so that each recipient gets it once and a
// recipient the server refuses fails alone. Each message carries the
// recipient's links, signed by a Signer (HMAC-SHA256 over tenant,
// recipient and list, with a key kept in the store): the preference page
// and the one-click List-Unsubscribe URL of RFC 8058. A recipient who left
// a list is not sent it, unless the policy makes the list Mandatory.
//
// Bodies are rendered by a Renderer, which the reporter provides; this
// package only decides what is sent, to whom and when.
package notify
