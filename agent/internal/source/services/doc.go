// Package services is the source of the host's systemd units and whether
// each is enabled: one item per unit file, keyed "service:NAME" with the
// unit's full name ("service:ssh.service", "service:apt-daily.timer").
//
// The state is worked out from the filesystem alone, the way "systemctl
// list-unit-files" would show it, without asking systemd: the agent may run
// in a container or chroot, or on a host whose PID 1 is not systemd, and
// reading files keeps it quiet and side-effect free. The rules:
//
//   - Unit files are looked for in the unit directories in order
//     (/etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system,
//     /usr/lib/systemd/system, /lib/systemd/system); the first one holding a
//     name wins, and its path is the unit_file attribute. A unit file that is
//     a symlink is followed, inside Options.Root.
//   - masked: the unit file is a symlink to /dev/null or an empty file.
//   - alias: the unit file is a symlink to a unit of another name (alias_of).
//   - enabled: a symlink of the unit's name lies in a *.wants or *.requires
//     directory of /etc/systemd/system; wanted_by lists those directories.
//     Links in the vendor directories (/usr/lib/systemd/system/*.wants) do
//     not make a unit enabled.
//   - disabled: the [Install] section has WantedBy=, RequiredBy=, UpheldBy=
//     or Alias=, but the unit is not enabled.
//   - indirect: the [Install] section only has Also=.
//   - static: there is nothing to enable, no [Install] section.
//
// Template units (getty@.service) are listed with their own state; each
// enabled instance (getty@tty1.service, linked in getty.target.wants) is an
// item of its own with state enabled and the template's unit_file.
//
// Unit types: service, socket, timer, path, mount, automount, swap, target
// and slice. Out of scope: SysV init scripts in /etc/init.d, units made by
// generators or at runtime (transient, "enabled-runtime" links in /run), and
// drop-in directories (NAME.d/*.conf), whose content a files source can
// watch.
package services
