// Package pkgtx records package-manager transactions on the host (apt and
// dpkg, dnf and rpm) and tells which drift happened inside one, so that a
// patch run is reported as such — which packages, from which version to
// which, by which command and which user — and can be matched to a
// standing change ticket instead of showing as unexplained drift.
//
// # Recording
//
// Hooks that the agent's package installs call the hidden command
// `driftwatch-agent pkgtx begin|end -tool TOOL -config FILE`, which calls
// Begin and End:
//
//   - apt: /etc/apt/apt.conf.d/80driftwatch-agent sets DPkg::Pre-Invoke
//     (begin) and DPkg::Post-Invoke (end); both run once per apt run,
//     around all of its dpkg calls.
//   - dnf (RHEL, Rocky, Alma 8 and 9): dnf has no hook before a
//     transaction, so /etc/dnf/plugins/post-transaction-actions.d/
//     driftwatch-agent.action runs end only, through the
//     post-transaction-actions plugin (package
//     python3-dnf-plugin-post-transaction-actions). End then takes the
//     transaction to have begun with dnf's first logged change.
//
// Begin writes a record to STATE_DIR/pkgtx/ID.json (mode 0600, written to
// a temporary file, synced and renamed, the directory synced) with the
// package manager's command line (found by walking up the process tree
// from the hook, through `sh -c` and interpreters, to apt, dnf …), the user
// (SUDO_USER, DOAS_USER, PKEXEC_UID, else the login uid, else the user the
// package manager runs as), the time and, for apt and dpkg, the installed
// packages from /var/lib/dpkg/status. End finds the record of the same
// package manager process (PID and start time), adds the packages that
// changed — dpkg's database against the one recorded, else the lines of
// /var/log/dpkg.log or /var/log/dnf.rpm.log since the start — and the end
// time. A Begin without an End (the package manager was killed, the host
// went down) is closed as Incomplete when its process is found gone or
// after DefaultMaxOpen. Records are kept for DefaultRetention.
//
// The hooks never hold up or fail the package manager: the command bounds
// its own run, always exits 0, and writes problems to standard error only.
//
// # Attributing drift
//
// The agent service opens the log once and asks it about each report's
// drift:
//
//	txlog, err := pkgtx.Open(cfg.StateDir)
//	…
//	// Drift is about to be reported. While a transaction is in
//	// progress, hold the report until it ends (a change in txlog.Dir(),
//	// or txlog.MaxOpen), so the report names the packages.
//	if t, _ := txlog.InProgress(); t != nil { … }
//	items := []pkgtx.ItemChange{{Key: "file:/etc/nginx/nginx.conf", ObservedAt: seen}, …}
//	byKey, err := txlog.Attribute(items) // err: unreadable records, the map is still good
//	for key, t := range byKey { /* attach t to the drift item key */ }
//
// An item belongs to a transaction when its key is package:NAME of a
// package the transaction changed, or when it was observed between the
// transaction's start and its end plus DefaultSettle (postinst scripts and
// triggers write files the watcher reports a little later). Drift outside
// every transaction is not in the map and stays unexplained.
//
// # On the wire
//
// A report (protocol 1.3) carries the transactions its new changes
// happened in, each once, and the transaction of each such change by key
// (ForReport, Transaction.Wire; Seen keeps when each drifting state was
// first seen, so that a change a later report repeats is not attributed
// again):
//
//	"transactions": [{"id": "20250114T021503.120000000Z-apt-81234", "manager": "apt",
//	  "command": "apt-get upgrade -y", "user": "alice",
//	  "started": "2025-01-14T02:15:03.12Z", "ended": "2025-01-14T02:15:41.87Z",
//	  "packages": [{"name": "openssl", "arch": "amd64", "from": "3.0.15-1~deb12u1",
//	                "to": "3.0.16-1~deb12u1", "action": "upgrade"}]}],
//	"item_transactions": {"file:/etc/ssl/openssl.cnf": "20250114T021503.120000000Z-apt-81234"}
//
// "ended" is absent while the transaction is in progress; "incomplete" is
// true when the package manager did not report its end. The collector
// matches them to the tenant's standard changes.
package pkgtx
