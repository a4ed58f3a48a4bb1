package reporter

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/baseline"
)

// RollbackStep is one step that undoes a change: what to do, and a shell
// command for it when there is one. Commands are suggestions for an
// engineer to check and run, with every name from the host shell-quoted.
type RollbackStep struct {
	Text    string
	Command string
}

// shQuote quotes s for a POSIX shell: as it is when it holds only safe
// characters, in single quotes otherwise, and, when it holds control
// characters or bytes that are not valid UTF-8, as bash's $'…' with \xNN
// escapes so that every byte survives a copy and paste.
func shQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	printable := utf8.ValidString(s)
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
		}
		if _, sp := special(r, false); sp || r == utf8.RuneError {
			printable = false
		}
	}
	if safe {
		return s
	}
	if printable {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var sb strings.Builder
	sb.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		_, sp := special(r, false)
		switch {
		case r == utf8.RuneError && size == 1, sp, r < 0x20:
			for j := 0; j < size; j++ {
				fmt.Fprintf(&sb, `\x%02x`, s[i+j])
			}
		case r == '\'' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		default:
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	sb.WriteString("'")
	return sb.String()
}

// changeAttrs returns the old side's attributes of a change: the baseline
// item's, or the old values of the change's attributes.
func oldAttrs(c *baseline.Change) map[string]string {
	if c.Old != nil {
		return c.Old.Attrs.Map()
	}
	m := map[string]string{}
	for k, v := range c.Attrs {
		if v.Old != "" {
			m[k] = v.Old
		}
	}
	return m
}

// changed reports whether an attribute differs in the change.
func changed(c *baseline.Change, name string) bool {
	_, ok := c.Attrs[name]
	return ok
}

// RollbackSteps returns how to put an item back as the baseline has it.
// hasContent says the baseline's text content is at hand (the drift page
// shows it below the steps).
func RollbackSteps(c baseline.Change, hasContent bool) []RollbackStep {
	key := c.ExactKey()
	name := key
	if _, n, ok := strings.Cut(key, ":"); ok {
		name = n
	}
	old := oldAttrs(&c)
	q := shQuote(name)
	var steps []RollbackStep
	add := func(text, cmd string) { steps = append(steps, RollbackStep{Text: text, Command: cmd}) }
	switch c.Kind {
	case baseline.KindFile:
		steps = fileRollback(&c, q, old, hasContent)
	case baseline.KindPackage:
		mgr := old[attrManager]
		if mgr == "" && c.New != nil {
			mgr, _ = c.New.Attrs.Get(attrManager)
		}
		switch c.Change {
		case baseline.Added:
			add("The package was not installed in the baseline. Remove it:", pkgCmd(mgr, "remove", q))
		case baseline.Removed:
			add("Reinstall the baseline's version:", pkgInstall(mgr, name, old["version"]))
		default:
			if changed(&c, "version") {
				add("Install the baseline's version "+old["version"]+" again:", pkgInstall(mgr, name, old["version"]))
			}
			if changed(&c, "hold") {
				if old["hold"] == "true" {
					add("Hold the package again:", "apt-mark hold "+q)
				} else {
					add("Release the hold:", "apt-mark unhold "+q)
				}
			}
		}
	case baseline.KindService:
		switch c.Change {
		case baseline.Added:
			add("The unit did not exist in the baseline. Disable it and remove its unit file:", "systemctl disable --now "+q)
		case baseline.Removed:
			add("Restore the unit file "+old["unit_file"]+" from the baseline and reload systemd:", "systemctl daemon-reload")
		}
		if c.Change != baseline.Added && changed(&c, "state") {
			switch old["state"] {
			case "enabled":
				add("Enable the unit again:", "systemctl unmask "+q+" && systemctl enable "+q)
			case "disabled":
				add("Disable the unit again:", "systemctl unmask "+q+" && systemctl disable "+q)
			case "masked":
				add("Mask the unit again:", "systemctl mask "+q)
			default:
				add("Set the unit back to "+old["state"]+".", "")
			}
		}
	case baseline.KindSysctl:
		if v, ok := old["value"]; ok {
			add("Set the baseline's value now, and keep it in /etc/sysctl.d so it survives a reboot:", "sysctl -w "+shQuote(name+"="+v))
		} else {
			add("The parameter did not exist in the baseline; it appears with a kernel module or feature. Unload what added it.", "")
		}
	case baseline.KindUser:
		switch c.Change {
		case baseline.Added:
			add("The account did not exist in the baseline. Lock it first, then remove it once nothing needs it:", "usermod -L "+q+" && userdel "+q)
		case baseline.Removed:
			cmd := "useradd"
			for _, f := range []struct{ flag, attr string }{{"-u", "uid"}, {"-g", "gid"}, {"-d", "home"}, {"-s", "shell"}, {"-c", "gecos"}} {
				if v := old[f.attr]; v != "" {
					cmd += " " + f.flag + " " + shQuote(v)
				}
			}
			add("Recreate the account with the baseline's attributes (its password must be set again):", cmd+" "+q)
		default:
			cmd := "usermod"
			for _, f := range []struct{ flag, attr string }{{"-u", "uid"}, {"-g", "gid"}, {"-d", "home"}, {"-s", "shell"}, {"-c", "gecos"}, {"-G", "groups"}} {
				if changed(&c, f.attr) {
					cmd += " " + f.flag + " " + shQuote(old[f.attr])
				}
			}
			if cmd != "usermod" {
				add("Set the account's attributes back:", cmd+" "+q)
			}
		}
	case baseline.KindGroup:
		switch c.Change {
		case baseline.Added:
			add("The group did not exist in the baseline. Remove it:", "groupdel "+q)
		case baseline.Removed:
			add("Recreate the group:", "groupadd -g "+shQuote(old["gid"])+" "+q)
		default:
			if changed(&c, "members") {
				add("Set the members back:", "gpasswd -M "+shQuote(old["members"])+" "+q)
			}
			if changed(&c, "gid") {
				add("Set the group ID back:", "groupmod -g "+shQuote(old["gid"])+" "+q)
			}
		}
	case baseline.KindPort:
		switch c.Change {
		case baseline.Added:
			proc := ""
			if c.New != nil {
				proc, _ = c.New.Attrs.Get("process")
			}
			text := "A new listener on " + name + "."
			if proc != "" {
				text += " It belongs to " + proc + "; stop and disable the service that runs it."
			} else {
				text += " Find its process and stop the service that runs it:"
			}
			add(text, "ss -lntup "+shQuote("sport = :"+portNumber(name)))
		case baseline.Removed:
			text := "Nothing listens on " + name + " any more."
			if p := old["process"]; p != "" {
				text += " Start the service that ran " + p + "."
			}
			add(text, "")
		default:
			add("The listener on "+name+" changed (addresses or process). Restore the service's configuration.", "")
		}
	case baseline.KindCommand:
		add("The output of "+old["argv"]+" changed. Restore the state it reports; the baseline's output is below.", "")
	case baseline.KindInventory:
		add("A change of the host itself (hardware, kernel or operating system). There is no command to undo it; check it was planned.", "")
	}
	if len(steps) == 0 {
		add("Restore the item as the baseline's attributes show.", "")
	}
	return steps
}

// attrManager is the packages source's package manager attribute.
const attrManager = "manager"

func portNumber(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func pkgCmd(mgr, verb, q string) string {
	if mgr == "rpm" {
		return "dnf " + verb + " " + q
	}
	return "apt-get " + verb + " " + q
}

func pkgInstall(mgr, name, version string) string {
	if version == "" {
		return pkgCmd(mgr, "install", shQuote(name))
	}
	if mgr == "rpm" {
		// rpm versions are epoch:version-release; dnf takes
		// name-version-release, with the epoch only when it is not 0.
		v := version
		if epoch, rest, ok := strings.Cut(v, ":"); ok && (epoch == "0" || epoch == "" || epoch == "(none)") {
			v = rest
		}
		return "dnf install --allowerasing " + shQuote(name+"-"+v)
	}
	return "apt-get install --allow-downgrades " + shQuote(name+"="+version)
}

func fileRollback(c *baseline.Change, q string, old map[string]string, hasContent bool) []RollbackStep {
	var steps []RollbackStep
	add := func(text, cmd string) { steps = append(steps, RollbackStep{Text: text, Command: cmd}) }
	typ := old[baseline.AttrType]
	if typ == "" && c.New != nil {
		typ, _ = c.New.Attrs.Get(baseline.AttrType)
	}
	owner := func() string {
		o, g := old[baseline.AttrOwner], old[baseline.AttrGroup]
		if o == "" {
			o = old[baseline.AttrUID]
		}
		if g == "" {
			g = old[baseline.AttrGID]
		}
		if o == "" {
			return ""
		}
		if g != "" {
			return o + ":" + g
		}
		return o
	}
	switch c.Change {
	case baseline.Added:
		switch typ {
		case "dir":
			add("The directory did not exist in the baseline. Check what it holds, then remove it:", "ls -la "+q+" && rm -r -- "+q)
		default:
			add("The file did not exist in the baseline. Keep a copy, then remove it:", "cp -a -- "+q+" "+shQuote(pathOf(c)+".drift")+" && rm -- "+q)
		}
		return steps
	case baseline.Removed:
		switch typ {
		case "dir":
			add("Recreate the directory:", "mkdir -p -- "+q)
		case "symlink":
			add("Recreate the link:", "ln -s -- "+shQuote(old[baseline.AttrTarget])+" "+q)
			return steps
		default:
			if hasContent {
				add("Recreate the file with the baseline's content shown below (secrets were masked: fill them in from your vault).", "")
			} else {
				add("Restore the file from a backup: the baseline recorded its digest only"+digestHint(c)+".", "")
			}
		}
	default:
		if changed(c, baseline.AttrSHA256) {
			if hasContent {
				text := "Restore the baseline's content shown below"
				if c.Redacted {
					text += " (secrets were masked: fill them in from your vault)"
				}
				add(text+".", "")
			} else {
				add("Restore the file's content from a backup: the baseline recorded its digest only"+digestHint(c)+".", "")
			}
		}
		if changed(c, baseline.AttrTarget) {
			add("Point the link back:", "ln -sfn -- "+shQuote(old[baseline.AttrTarget])+" "+q)
		}
		if changed(c, baseline.AttrType) {
			add("The file's type changed from "+old[baseline.AttrType]+"; recreate it as it was.", "")
		}
	}
	if m := old[baseline.AttrMode]; m != "" && (c.Change == baseline.Removed || changed(c, baseline.AttrMode)) {
		add("Set the mode back:", "chmod "+shQuote(m)+" -- "+q)
	}
	ownerChanged := changed(c, baseline.AttrOwner) || changed(c, baseline.AttrGroup) || changed(c, baseline.AttrUID) || changed(c, baseline.AttrGID)
	if o := owner(); o != "" && (c.Change == baseline.Removed || ownerChanged) {
		add("Set the owner back:", "chown -h "+shQuote(o)+" -- "+q)
	}
	return steps
}

func pathOf(c *baseline.Change) string {
	_, n, _ := strings.Cut(c.ExactKey(), ":")
	return n
}

func digestHint(c *baseline.Change) string {
	if a, ok := c.Attrs[baseline.AttrSHA256]; ok && a.Old != "" {
		return " (sha256 " + a.Old[:min(12, len(a.Old))] + "…)"
	}
	return ""
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
