package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/pkgtx"
)

// pkgtxBound is the longest a package manager hook waits for the record:
// past it, the hook gives up and lets the package manager go on.
const pkgtxBound = 10 * time.Second

// pkgtx runs `driftwatch-agent pkgtx begin|end -tool TOOL -config FILE`,
// the command the apt and dnf hooks call around a package transaction.
// It is not in the usage: people do not run it. Once its arguments are
// understood it exits 0 whatever happens, so the package manager is never
// failed or held up by the agent; problems go to standard error.
func (c *cli) pkgtx(ctx context.Context, args []string) int {
	if len(args) == 0 || (args[0] != "begin" && args[0] != "end") {
		fmt.Fprintln(c.stderr, "driftwatch-agent pkgtx: want begin or end")
		return exitError
	}
	what := args[0]
	fs := flag.NewFlagSet("driftwatch-agent pkgtx "+what, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cfgPath := fs.String("config", config.DefaultPath, "agent configuration `file`")
	tool := fs.String("tool", pkgtx.ToolApt, "the package manager the hook runs in: apt, dpkg, dnf or rpm")
	if fs.Parse(args[1:]) != nil || fs.NArg() > 0 {
		return exitError
	}
	return pkgtxRun(ctx, c.stderr, what, *cfgPath, *tool)
}

// pkgtxRun records the begin or end of a transaction and returns exitOK.
func pkgtxRun(ctx context.Context, stderr io.Writer, what, cfgPath, tool string) int {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "driftwatch-agent pkgtx %s: package transaction not recorded: configuration %s: %v\n", what, cfgPath, err)
		return exitOK
	}
	ctx, cancel := context.WithTimeout(ctx, pkgtxBound)
	defer cancel()
	opt := pkgtx.HookOptions{StateDir: cfg.StateDir, Tool: tool}
	done := make(chan error, 1)
	go func() {
		var err error
		if what == "begin" {
			_, err = pkgtx.Begin(ctx, opt)
		} else {
			_, err = pkgtx.End(ctx, opt)
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("gave up after %s", pkgtxBound)
	}
	if err != nil {
		fmt.Fprintf(stderr, "driftwatch-agent pkgtx %s: %v\n", what, err)
	}
	return exitOK
}
