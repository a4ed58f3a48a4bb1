// Command driftwatch-collector is the driftwatch server: it enrolls agents,
// ingests their drift reports and keeps every host's baselines.
//
// Exit status: 0 success, 2 error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/driftwatch/driftwatch/collector"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/config"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/tlsutil"
	"github.com/driftwatch/driftwatch/internal/profiling"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

const usageCore = `driftwatch-collector: the driftwatch server

Usage:
  driftwatch-collector serve -config FILE
  driftwatch-collector migrate -config FILE
  driftwatch-collector tenant create -config FILE NAME
  driftwatch-collector tenant list -config FILE
  driftwatch-collector token create -config FILE -tenant NAME [-ttl 24h] [-uses N]
  driftwatch-collector user create -config FILE [-tenant NAME] -email EMAIL -role viewer|engineer|approver|admin
  driftwatch-collector fingerprint -config FILE
  driftwatch-collector version

-config defaults to ` + defaultConfig + `. Exit status: 0 success, 2 error.
`

const defaultConfig = "/etc/driftwatch/collector.hcl"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer profiling.Start("driftwatch-collector", stderr)()
	c := &cli{stdout: stdout, stderr: stderr}
	cmd := args[0]
	rest := args[1:]
	if (cmd == "tenant" || cmd == "token" || cmd == "user") && len(rest) > 0 {
		cmd += " " + rest[0]
		rest = rest[1:]
	}
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "migrate":
		return c.migrate(ctx, rest)
	case "tenant create":
		return c.tenantCreate(ctx, rest)
	case "tenant list":
		return c.tenantList(ctx, rest)
	case "token create":
		return c.tokenCreate(ctx, rest)
	case "user create":
		return c.userCreate(ctx, rest)
	case "fingerprint":
		return c.fingerprint(rest)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "driftwatch-collector %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return 0
	}
	if fn, ok := commands[cmd]; ok {
		return fn(c, ctx, rest)
	}
	if len(rest) > 0 {
		if fn, ok := commands[cmd+" "+rest[0]]; ok {
			return fn(c, ctx, rest[1:])
		}
	}
	fmt.Fprintf(stderr, "driftwatch-collector: unknown command %q\n\n%s", strings.Join(args[:min(2, len(args))], " "), usage())
	return 2
}

// moreUsage are the usage lines of the commands in commands, each file's
// init adds its own.
var moreUsage []string

// usage is the help text.
func usage() string {
	if len(moreUsage) == 0 {
		return usageCore
	}
	lines := append([]string(nil), moreUsage...)
	sort.Strings(lines)
	return usageCore + "\nMore commands:\n" + strings.Join(lines, "\n") + "\n"
}

// commands are the commands each file of this package adds, by name
// ("ticket create"); the switch above has the core ones.
var commands = map[string]func(c *cli, ctx context.Context, args []string) int{}

type cli struct {
	stdout, stderr io.Writer
}

func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "driftwatch-collector: %v\n", err)
	return 2
}

func (c *cli) flags(name string, cfgPath *string) *flag.FlagSet {
	fs := flag.NewFlagSet("driftwatch-collector "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(cfgPath, "config", defaultConfig, "collector configuration `file`")
	return fs
}

// load reads the configuration, printing its problems with file:line:col.
func (c *cli) load(path string) *config.Collector {
	cfg, err := config.Load(path)
	if err != nil {
		if d, ok := config.AsDiagnostics(err); ok {
			d.WriteText(c.stderr)
		} else {
			fmt.Fprintf(c.stderr, "driftwatch-collector: %v\n", err)
		}
		return nil
	}
	return cfg
}

func (c *cli) openStore(ctx context.Context, path string) (store.Store, *config.Collector, int) {
	cfg := c.load(path)
	if cfg == nil {
		return nil, nil, 2
	}
	st, err := collector.OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, c.fail(err)
	}
	return st, cfg, 0
}

func (c *cli) serve(ctx context.Context, args []string) int {
	var cfgPath, level string
	fs := c.flags("serve", &cfgPath)
	fs.StringVar(&level, "log-level", "info", "log `level`: debug, info, warn or error")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return c.fail(fmt.Errorf("-log-level: %w", err))
	}
	cfg := c.load(cfgPath)
	if cfg == nil {
		return 2
	}
	// A report's ingest is mostly short-lived garbage (its body, decoded
	// drift, statement arguments) over a small live heap: a GC target of
	// 200% halves the collections for about 15% more resident memory
	// (measured with bench/ingest.sh: 108 MiB peak instead of 94 at 1,000
	// hosts, 11% less CPU per report). GOGC in the environment overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	if err != nil {
		return c.fail(err)
	}
	defer log.Sync()
	col, err := collector.Open(ctx, cfg, log)
	if err != nil {
		return c.fail(err)
	}
	defer col.Close()
	if !cfg.Insecure {
		if fp, err := collector.Fingerprint(cfg); err == nil {
			fmt.Fprintf(c.stderr, "certificate fingerprint (agents pin it): %s\n", tlsutil.FormatFingerprint(fp))
		}
	}
	if err := col.Serve(ctx, nil); err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *cli) migrate(ctx context.Context, args []string) int {
	var cfgPath string
	fs := c.flags("migrate", &cfgPath)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	cfg := c.load(cfgPath)
	if cfg == nil {
		return 2
	}
	applied, err := collector.Migrate(ctx, cfg)
	if err != nil {
		return c.fail(err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(c.stdout, "store is up to date")
	}
	for _, m := range applied {
		fmt.Fprintf(c.stdout, "applied %s\n", m)
	}
	return 0
}

func (c *cli) tenantCreate(ctx context.Context, args []string) int {
	var cfgPath string
	fs := c.flags("tenant create", &cfgPath)
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		fmt.Fprintln(c.stderr, "driftwatch-collector tenant create: want one tenant NAME")
		return 2
	}
	st, _, code := c.openStore(ctx, cfgPath)
	if st == nil {
		return code
	}
	defer st.Close()
	id, err := auth.NewID("tn_")
	if err != nil {
		return c.fail(err)
	}
	t, err := st.CreateTenant(ctx, id, fs.Arg(0), time.Now().UTC())
	if errors.Is(err, store.ErrExists) {
		return c.fail(fmt.Errorf("tenant %q exists already", fs.Arg(0)))
	}
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "tenant %s created (id %s)\n", t.Name, t.ID)
	return 0
}

func (c *cli) tenantList(ctx context.Context, args []string) int {
	var cfgPath string
	fs := c.flags("tenant list", &cfgPath)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	st, _, code := c.openStore(ctx, cfgPath)
	if st == nil {
		return code
	}
	defer st.Close()
	ts, err := st.Tenants(ctx)
	if err != nil {
		return c.fail(err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tHOSTS\tCREATED")
	for _, t := range ts {
		hosts, err := st.Hosts(ctx, t.ID)
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.Name, t.ID, len(hosts), t.CreatedAt.Format("2006-01-02 15:04"))
	}
	tw.Flush()
	return 0
}

func (c *cli) tokenCreate(ctx context.Context, args []string) int {
	var cfgPath, tenant string
	fs := c.flags("token create", &cfgPath)
	fs.StringVar(&tenant, "tenant", "", "tenant `NAME` the enrolled hosts belong to (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token can be used")
	uses := fs.Int("uses", 1, "how many hosts can enroll with it")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	if tenant == "" || *ttl <= 0 || *uses < 1 {
		fmt.Fprintln(c.stderr, "driftwatch-collector token create: -tenant is required, -ttl must be positive and -uses at least 1")
		return 2
	}
	st, _, code := c.openStore(ctx, cfgPath)
	if st == nil {
		return code
	}
	defer st.Close()
	t, err := st.TenantByName(ctx, tenant)
	if err != nil {
		return c.fail(fmt.Errorf("tenant %q: %w", tenant, err))
	}
	secret, hash, err := auth.NewSecret("dwe_")
	if err != nil {
		return c.fail(err)
	}
	id, err := auth.NewID("t_")
	if err != nil {
		return c.fail(err)
	}
	now := time.Now().UTC()
	if err := st.CreateToken(ctx, store.Token{ID: id, TenantID: t.ID, Hash: hash, ExpiresAt: now.Add(*ttl), UsesLeft: *uses, CreatedAt: now}); err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, secret)
	fmt.Fprintf(c.stderr, "enrollment token for tenant %s: valid until %s for %d host(s); it is shown only once\n", t.Name, now.Add(*ttl).Format(time.RFC3339), *uses)
	return 0
}

func (c *cli) userCreate(ctx context.Context, args []string) int {
	var cfgPath, tenant, email, role string
	fs := c.flags("user create", &cfgPath)
	fs.StringVar(&tenant, "tenant", "", "tenant `NAME` (empty: an MSP-wide admin)")
	fs.StringVar(&email, "email", "", "the user's email `address` (required)")
	fs.StringVar(&role, "role", "", "viewer, engineer, approver or admin (required)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	switch role {
	case store.RoleViewer, store.RoleEngineer, store.RoleApprover, store.RoleAdmin:
	default:
		fmt.Fprintf(c.stderr, "driftwatch-collector user create: -role must be viewer, engineer, approver or admin, not %q\n", role)
		return 2
	}
	if !strings.Contains(email, "@") {
		fmt.Fprintf(c.stderr, "driftwatch-collector user create: -email %q is not an email address\n", email)
		return 2
	}
	if tenant == "" && role != store.RoleAdmin {
		fmt.Fprintln(c.stderr, "driftwatch-collector user create: only an admin can be MSP-wide; give -tenant for other roles")
		return 2
	}
	st, _, code := c.openStore(ctx, cfgPath)
	if st == nil {
		return code
	}
	defer st.Close()
	tenantID := ""
	if tenant != "" {
		t, err := st.TenantByName(ctx, tenant)
		if err != nil {
			return c.fail(fmt.Errorf("tenant %q: %w", tenant, err))
		}
		tenantID = t.ID
	}
	secret, hash, err := auth.NewSecret("dwu_")
	if err != nil {
		return c.fail(err)
	}
	id, err := auth.NewID("u_")
	if err != nil {
		return c.fail(err)
	}
	err = st.CreateUser(ctx, store.User{ID: id, TenantID: tenantID, Email: email, Role: role, TokenHash: hash, CreatedAt: time.Now().UTC()})
	if errors.Is(err, store.ErrExists) {
		return c.fail(fmt.Errorf("user %s exists already in that tenant", email))
	}
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, secret)
	scope := "tenant " + tenant
	if tenant == "" {
		scope = "all tenants"
	}
	fmt.Fprintf(c.stderr, "API token for %s (%s, %s); use it as Authorization: Bearer TOKEN; it is shown only once\n", email, role, scope)
	return 0
}

func (c *cli) fingerprint(args []string) int {
	var cfgPath string
	fs := c.flags("fingerprint", &cfgPath)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	cfg := c.load(cfgPath)
	if cfg == nil {
		return 2
	}
	if cfg.Insecure {
		fmt.Fprintln(c.stderr, "driftwatch-collector fingerprint: the collector serves plain HTTP (insecure = true); there is no certificate")
		return 2
	}
	fp, err := collector.Fingerprint(cfg)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, fp)
	fmt.Fprintf(c.stderr, "SHA-256 %s\n", tlsutil.FormatFingerprint(fp))
	return 0
}
