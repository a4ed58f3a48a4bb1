// Package ports observes which network ports a Linux host serves: every
// listening TCP socket and every bound, unconnected UDP socket, read from the
// kernel's socket tables in /proc/net (tcp, tcp6, udp, udp6).
//
// There is one item per protocol and port, "port:tcp/22" or "port:udp/53";
// IPv6 sockets count with IPv4 ones. Its attributes say on which local
// addresses the port is served, by which user ids, and, when asked, by which
// processes (found through the sockets' inodes in /proc/PID/fd). Connected
// sockets (clients, accepted connections) are left out: they come and go by
// themselves and are not configuration.
package ports
