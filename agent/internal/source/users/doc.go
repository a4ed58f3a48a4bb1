// Package users is the source of the host's local accounts: one item per
// user in /etc/passwd ("user:NAME") and, from a second source of the same
// options, one per group in /etc/group ("group:NAME").
//
// A user item carries uid, gid, the primary group's name (group), home,
// shell, gecos, and groups: the supplementary groups whose member lists in
// /etc/group name the user. A group item carries gid and members, the member
// list as written in /etc/group. List attributes are sorted and
// comma-joined, and left out when empty. These are what an administrator
// changes with useradd, usermod and gpasswd, and what a change ticket names.
//
// Password fields are never recorded, and /etc/shadow and /etc/gshadow are
// never read: the agent reports who may log in, not their credentials.
// Only the local files are read; accounts from NIS, LDAP or SSSD are not
// listed, and NIS compat lines ("+", "-") are skipped, as are comments and
// blank lines. A malformed line, or a second entry with a name already
// seen, is a warning naming file:line and is skipped; the first entry of a
// name is the one kept, as getpwnam would find it.
package users
