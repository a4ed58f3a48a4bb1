package packages

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
)

// maxStderr bounds how much of a failing command's standard error is quoted.
const maxStderr = 512

// runRPM runs argv, which prints the installed packages in the form of
// DefaultRPMCommand, and returns them. A malformed line is passed to
// emit.Warn and skipped.
func runRPM(ctx context.Context, argv []string, emit source.Emitter) ([]pkg, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > maxStderr {
			msg = msg[:maxStderr] + "…"
		}
		if msg != "" {
			return nil, fmt.Errorf("run %s: %w: %s", strings.Join(argv, " "), err, msg)
		}
		return nil, fmt.Errorf("run %s: %w", strings.Join(argv, " "), err)
	}
	return parseRPM(argv[0], &stdout, emit), nil
}

// parseRPM reads rpm's query output: name, [epoch:]version-release and
// architecture, tab-separated, one package a line. Versions of one name and
// architecture are merged. Warnings name the line as "PROGRAM output:N".
func parseRPM(program string, out *bytes.Buffer, emit source.Emitter) []pkg {
	var (
		pkgs  []pkg
		index = map[[2]string]int{} // name, architecture → index in pkgs
	)
	where := program + " output"
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[0] == "" || f[1] == "" {
			emit.Warn(lineError(where, n, "want NAME, EPOCH:VERSION-RELEASE and ARCH separated by tabs, have %q; skipped", clip(line)))
			continue
		}
		name, version, arch := f[0], strings.TrimPrefix(f[1], "(none):"), f[2]
		if arch == "(none)" {
			arch = "" // gpg-pubkey
		}
		id := [2]string{name, arch}
		if i, ok := index[id]; ok {
			pkgs[i].version = joinVersions(pkgs[i].version, version)
			continue
		}
		index[id] = len(pkgs)
		pkgs = append(pkgs, pkg{name: name, version: version, arch: arch})
	}
	// A bytes.Buffer cannot fail to read, and lines are capped at 1 MiB,
	// far above any package line; a longer one ends the listing early.
	if err := sc.Err(); err != nil {
		emit.Warn(fmt.Errorf("%s: %w", where, err))
	}
	return pkgs
}
