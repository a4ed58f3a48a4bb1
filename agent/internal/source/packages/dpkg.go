package packages

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
)

// stanza is one paragraph of the dpkg status file: the fields this source
// reads, and where the paragraph starts.
type stanza struct {
	line   int               // line of its first line
	fields map[string]string // canonical field name → first line of its value
	any    bool              // whether a field line has been read
	bad    error             // first structural problem, naming its line
}

// wanted are the status file fields the source reads, by lowercase name;
// the others (Description, Conffiles, Depends …) are checked for form and
// dropped.
var wanted = map[string]string{
	"package":      "Package",
	"status":       "Status",
	"version":      "Version",
	"architecture": "Architecture",
}

// readDpkgStatus parses the dpkg status file at path and returns its
// installed packages. A malformed stanza is passed to emit.Warn and
// skipped.
func readDpkgStatus(ctx context.Context, path string, emit source.Emitter) ([]pkg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", path, err)
	}
	defer f.Close()

	var (
		pkgs []pkg
		kept = map[[2]string]int{} // name, architecture → line of the stanza kept
		cur  *stanza
	)
	finish := func() {
		if cur == nil {
			return
		}
		if p, ok := dpkgPackage(path, cur, emit); ok {
			id := [2]string{p.name, p.arch}
			if first, dup := kept[id]; dup {
				emit.Warn(lineError(path, cur.line, "package %s (%s) already listed at line %d; ignored", p.name, p.arch, first))
			} else {
				kept[id] = cur.line
				pkgs = append(pkgs, p)
			}
		}
		cur = nil
	}
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		text, rerr := r.ReadString('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, fmt.Errorf("read dpkg status %s: %w", path, rerr)
		}
		if text == "" && rerr != nil {
			break
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		text = strings.TrimRight(text, "\r\n")
		if strings.TrimSpace(text) == "" {
			finish()
		} else {
			if cur == nil {
				cur = &stanza{line: n, fields: map[string]string{}}
			}
			cur.add(path, n, text)
		}
		if rerr != nil {
			break
		}
	}
	finish()
	return pkgs, nil
}

// add reads line n of a stanza.
func (s *stanza) add(path string, n int, text string) {
	if text[0] == ' ' || text[0] == '\t' {
		// A continuation line: more of the previous field's value.
		if !s.any && s.bad == nil {
			s.bad = lineError(path, n, "continuation line before any field")
		}
		return
	}
	s.any = true
	name, value, ok := strings.Cut(text, ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		if s.bad == nil {
			s.bad = lineError(path, n, "want \"Field: value\", have %q", clip(text))
		}
		return
	}
	canon, ok := wanted[strings.ToLower(name)]
	if !ok {
		return
	}
	if _, dup := s.fields[canon]; dup && s.bad == nil {
		s.bad = lineError(path, n, "duplicate field %s", canon)
	}
	s.fields[canon] = strings.TrimSpace(value)
}

// dpkgPackage returns the installed package a stanza describes. It reports
// false for a package that is not installed and, after a warning, for a
// malformed stanza.
func dpkgPackage(path string, s *stanza, emit source.Emitter) (pkg, bool) {
	if s.bad != nil {
		emit.Warn(fmt.Errorf("dpkg status: %w; stanza skipped", s.bad))
		return pkg{}, false
	}
	name := s.fields["Package"]
	if name == "" {
		emit.Warn(fmt.Errorf("dpkg status: %w; stanza skipped", lineError(path, s.line, "stanza without a Package field")))
		return pkg{}, false
	}
	status, ok := s.fields["Status"]
	if !ok {
		emit.Warn(fmt.Errorf("dpkg status: %w; stanza skipped", lineError(path, s.line, "package %s has no Status field", name)))
		return pkg{}, false
	}
	words := strings.Fields(status)
	if len(words) != 3 {
		emit.Warn(fmt.Errorf("dpkg status: %w; stanza skipped", lineError(path, s.line, "package %s: want Status \"WANT FLAG STATE\", have %q", name, status)))
		return pkg{}, false
	}
	if words[1] != "ok" || words[2] != "installed" || (words[0] != "install" && words[0] != "hold") {
		return pkg{}, false // removed, half-installed, config files only …
	}
	p := pkg{
		name:    name,
		version: s.fields["Version"],
		arch:    s.fields["Architecture"],
		hold:    words[0] == "hold",
	}
	var missing []string
	if p.version == "" {
		missing = append(missing, "Version")
	}
	if p.arch == "" {
		missing = append(missing, "Architecture")
	}
	if len(missing) > 0 {
		err := lineError(path, s.line, "package %s has no %s field", name, strings.Join(missing, " or "))
		p.err = err.Error()
		emit.Warn(fmt.Errorf("dpkg status: %w", err))
	}
	return p, true
}

// clip shortens a line quoted in a message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
