// Package packages is the source of the host's installed software packages:
// one item per package, keyed "package:NAME", with its version, architecture
// and the package manager that installed it.
//
// It reads the package manager's own record rather than the files a package
// installed, because that record is what an administrator changes (apt
// install, dnf upgrade, apt-mark hold) and what a change ticket names. Two
// managers are known:
//
//   - dpkg (Debian, Ubuntu): the status file, /var/lib/dpkg/status, is parsed
//     directly, so no dpkg or apt binary is needed. Only installed packages
//     are listed (Status "install ok installed" or "hold ok installed"); a
//     removed package whose configuration files remain ("deinstall ok
//     config-files") is not. A held package carries hold=true. A malformed
//     stanza is reported as a warning naming the file and line and skipped;
//     the rest of the file is still read.
//   - rpm (RHEL, Fedora, SUSE): "rpm -qa" is run with a query format that
//     prints name, epoch:version-release and architecture; an unset epoch
//     ("(none):") is dropped.
//
// Keys stay short and stable across architectures: a package installed for
// several architectures (dpkg multi-arch, rpm multilib) keeps "package:NAME"
// for its native (or architecture-independent) instance, and the other
// instances are keyed "package:NAME:ARCH". Several versions of one package
// and architecture (rpm install-only packages such as kernel or gpg-pubkey)
// make one item whose version is the sorted, comma-joined list.
package packages
