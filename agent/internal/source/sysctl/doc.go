// Package sysctl observes a Linux host's kernel parameters: one item per
// readable file under /proc/sys, keyed by its dotted name the way sysctl(8)
// shows it ("sysctl:net.ipv4.ip_forward"), with the value as the attribute
// "value".
//
// Some parameters change on their own (counters, random values, the kernel's
// own tuning); reporting them would be drift that nobody made. They are left
// out by default (see DefaultExclude), so that two snapshots of an untouched
// host are identical. Write-only parameters (vm.drop_caches) hold no value and
// are skipped.
//
// Include and Exclude patterns select parameters by dotted name; see Options.
package sysctl
