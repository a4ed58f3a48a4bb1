// Command svcbench measures the driftwatch agent running as a service
// (`driftwatch-agent run`) against a real collector on loopback: how soon a
// change reaches the collector, what the agent costs while nothing changes,
// and how fast its spool empties when the collector comes back. It does
// the measuring; bench/service.sh sets up the collector, the trees and the
// agents, runs it and prints the table.
//
//	svcbench tree    -out DIR -dirs 10000 -files 10
//	svcbench latency -collector URL -fingerprint FP -credential TOKEN -host ID -dir DIR [-singles 50] [-bursts 5]
//	svcbench idle    [-settle 60s] [-window 60s] NAME=PID [NAME=PID ...]
//	svcbench edit    -dir DIR -files 10000 -burst 100 -gap 400ms
//	svcbench drain   -collector URL -fingerprint FP -credential TOKEN -host ID -state DIR -log AGENT_LOG -changes N
//
// tree writes DIR/gNNN/dNNNNN/fNN.conf, small key = value files. latency
// edits files of DIR and polls the collector's GET /api/v1/hosts/{id}/drift
// until the new content's digest shows; the latency is the collector's
// received_at minus the time the write returned, both on this machine's
// clock. idle reads /proc/PID/stat and /proc/PID/status of each process
// over the same window. edit makes a given number of edits in bursts; drain
// times the agent's spool emptying after the collector is started again.
// Each prints its results as table rows on standard output. Exit status: 0
// success, 1 a measurement failed, 2 usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

const usage = `svcbench: measure the driftwatch agent as a service (see bench/service.sh)

Usage:
  svcbench tree    -out DIR -dirs 10000 -files 10
  svcbench latency -collector URL -fingerprint FP -credential TOKEN -host ID -dir DIR [-singles 50] [-bursts 5]
  svcbench idle    [-settle 60s] [-window 60s] NAME=PID [NAME=PID ...]
  svcbench edit    -dir DIR -files 10000 -burst 100 -gap 400ms
  svcbench drain   -collector URL -fingerprint FP -credential TOKEN -host ID -state DIR -log AGENT_LOG -changes N
`

// errUsage marks a command line that is wrong: exit status 2.
var errUsage = errors.New("usage")

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"tree":    cmdTree,
		"latency": cmdLatency,
		"idle":    cmdIdle,
		"edit":    cmdEdit,
		"drain":   cmdDrain,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "svcbench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		if msg := err.Error(); msg != errUsage.Error() {
			fmt.Fprintf(stderr, "svcbench %s: %s\n", args[0], msg)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "svcbench %s: %v\n", args[0], err)
		return 1
	}
}

// newFlags returns a flag set that reports errors to stderr and does not
// exit.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("svcbench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and refuses positional arguments unless positional
// is set.
func parse(fs *flag.FlagSet, args []string, positional bool) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if !positional && fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// collectorFlags are the flags of the commands that read the collector's
// API as a person would.
type collectorFlags struct {
	url, fingerprint, credential, host string
}

func (c *collectorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "collector", "", "the collector's base `URL` (required)")
	fs.StringVar(&c.fingerprint, "fingerprint", "", "the collector certificate's SHA-256 `fingerprint`")
	fs.StringVar(&c.credential, "credential", os.Getenv("SVCBENCH_CREDENTIAL"), "a user's API `token` (default: $SVCBENCH_CREDENTIAL)")
	fs.StringVar(&c.host, "host", "", "the host `ID` at the collector (required)")
}

// client checks the flags and returns an API client with the user's
// token.
func (c *collectorFlags) client() (*api.Client, error) {
	if c.url == "" || c.credential == "" || c.host == "" {
		return nil, fmt.Errorf("%w: -collector, -credential and -host are required", errUsage)
	}
	cl, err := api.NewClient(api.ClientOptions{BaseURL: c.url, Fingerprint: c.fingerprint, Credential: c.credential, Timeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("collector client: %w", err)
	}
	return cl, nil
}
