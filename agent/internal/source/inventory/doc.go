// Package inventory documents what a host is: its operating system, kernel,
// processors, memory, disks, network interfaces and identity. It is read from
// files (/etc/os-release, /proc, /sys) under a root directory, so a fixture
// tree stands in for a host in tests.
//
// The items are what an engineer needs to know about a host and what changes
// only when someone changes the host: "inventory:os", "inventory:kernel",
// "inventory:cpu", "inventory:memory", "inventory:machine",
// "inventory:disk/sda", "inventory:interface/eth0". Values that change by
// themselves (free memory, uptime, load, clock speed, random MAC addresses,
// temporary IPv6 addresses) are never observed, so they never show as drift.
//
// A file that is missing (a container has no /sys/block) skips what needed
// it, with a warning naming the path; the source as a whole never fails for
// it.
package inventory
