// Package pattern matches drift item keys against the item patterns that
// change tickets and escalation rules are scoped by.
//
// A pattern is kind:glob. The kind is an item kind ("file", "package",
// "service", "sysctl", "user", "group", "port", "command", "inventory") and
// must equal the item's kind. The glob matches the rest of the key, split
// into segments at "/":
//
//   - "*" matches any run of characters within one segment,
//   - "?" matches one character within a segment,
//   - "[abc]", "[a-z]" and "[^a-z]" match one character of a class,
//   - "\\" makes the next character literal,
//   - a segment that is exactly "**" matches zero or more whole segments.
//
// So "file:/etc/nginx/**" matches /etc/nginx itself and everything below
// it, "file:/etc/*.conf" matches /etc/host.conf but not /etc/a/b.conf,
// "package:openssl" matches only that package and "service:*" every
// service. Sysctl names are dotted, and a "/" in them stands for a dot
// inside one component ("net.ipv4.conf.eth0/100.rp_filter", as sysctl(8)
// writes it), so a sysctl name is one segment: "sysctl:net.ipv4.*" matches
// every sysctl under net.ipv4. File patterns must be absolute.
//
// Patterns are compiled once (Compile) and matched without allocating.
package pattern
