package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/internal/hclconf"
)

func init() {
	commands["ticket create"] = (*cli).ticketCreate
	commands["ticket list"] = (*cli).ticketList
	commands["ticket show"] = (*cli).ticketShow
	commands["ticket act"] = (*cli).ticketAct
	commands["policy load"] = (*cli).policyLoad
	commands["policy show"] = (*cli).policyShow
	commands["audit verify"] = (*cli).auditVerify
	commands["audit export"] = (*cli).auditExport
	commands["drift list"] = (*cli).driftList
	moreUsage = append(moreUsage,
		"  driftwatch-collector ticket create -config FILE -tenant NAME -as EMAIL -role ROLE [-customer] -file TICKET.json",
		"  driftwatch-collector ticket list -config FILE -tenant NAME [-state STATE]...",
		"  driftwatch-collector ticket show -config FILE -tenant NAME ID|REFERENCE",
		"  driftwatch-collector ticket act -config FILE -tenant NAME -as EMAIL -role ROLE [-customer] -action submit|review|approve|reject|start|complete|document|cancel [-comment TEXT] ID|REFERENCE",
		"  driftwatch-collector policy load -config FILE -tenant NAME -file POLICY.hcl [-as EMAIL]",
		"  driftwatch-collector policy show -config FILE -tenant NAME",
		"  driftwatch-collector audit verify -config FILE -tenant NAME",
		"  driftwatch-collector audit export -config FILE -tenant NAME [-o FILE]",
		"  driftwatch-collector drift list -config FILE -tenant NAME [-status open]...",
	)
}

// multi is a flag that may be given several times.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// tenantFlags are what every change-management command takes.
type tenantFlags struct {
	cfg, tenant string
}

func (c *cli) tenantFlagSet(name string, tf *tenantFlags) *flag.FlagSet {
	fs := c.flags(name, &tf.cfg)
	fs.StringVar(&tf.tenant, "tenant", "", "tenant `NAME`")
	return fs
}

// actorFlags name who acts: the CLI runs on the collector's host, so its
// user says who they are acting as.
type actorFlags struct {
	email, role string
	customer    bool
}

func (af *actorFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&af.email, "as", "", "acting person's `EMAIL`")
	fs.StringVar(&af.role, "role", "engineer", "acting `ROLE`: viewer, engineer, approver or admin")
	fs.BoolVar(&af.customer, "customer", false, "the person is the customer's (of the tenant), not the MSP's")
}

func (af *actorFlags) actor(tenantID string) (ticket.Actor, error) {
	if af.email == "" {
		return ticket.Actor{}, errors.New("-as EMAIL is required: who acts")
	}
	switch af.role {
	case store.RoleViewer, store.RoleEngineer, store.RoleApprover, store.RoleAdmin:
	default:
		return ticket.Actor{}, fmt.Errorf("-role %q: want viewer, engineer, approver or admin", af.role)
	}
	a := ticket.Actor{Email: af.email, Role: ticket.Role(af.role)}
	if af.customer {
		a.TenantID = tenantID
	}
	return a, nil
}

// openTenant opens the store and finds the tenant.
func (c *cli) openTenant(ctx context.Context, tf tenantFlags) (store.Store, store.Tenant, int) {
	if tf.tenant == "" {
		fmt.Fprintln(c.stderr, "driftwatch-collector: -tenant NAME is required")
		return nil, store.Tenant{}, 2
	}
	st, _, code := c.openStore(ctx, tf.cfg)
	if st == nil {
		return nil, store.Tenant{}, code
	}
	t, err := st.TenantByName(ctx, tf.tenant)
	if err != nil {
		st.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, store.Tenant{}, c.fail(fmt.Errorf("no tenant %q", tf.tenant))
		}
		return nil, store.Tenant{}, c.fail(err)
	}
	return st, t, 0
}

func (c *cli) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s\n", b)
	return 0
}

func (c *cli) ticketCreate(ctx context.Context, args []string) int {
	var tf tenantFlags
	var af actorFlags
	var file string
	fs := c.tenantFlagSet("ticket create", &tf)
	af.add(fs)
	fs.StringVar(&file, "file", "", "the ticket as JSON (`FILE`, - for stdin)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	var src []byte
	var err error
	if file == "-" {
		src, err = io.ReadAll(os.Stdin)
	} else {
		src, err = os.ReadFile(file)
	}
	if err != nil {
		return c.fail(fmt.Errorf("read ticket: %w", err))
	}
	var spec ticket.Spec
	dec := json.NewDecoder(strings.NewReader(string(src)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return c.fail(fmt.Errorf("ticket %s: %w", file, err))
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	by, err := af.actor(t.ID)
	if err != nil {
		return c.fail(err)
	}
	m := &changes.Manager{Store: st}
	tk, err := m.CreateTicket(ctx, t.ID, spec, by)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "ticket %s created (id %s, %s)\n", tk.Name(), tk.ID, tk.State)
	return 0
}

func (c *cli) ticketList(ctx context.Context, args []string) int {
	var tf tenantFlags
	var states multi
	fs := c.tenantFlagSet("ticket list", &tf)
	fs.Var(&states, "state", "only tickets in `STATE` (repeatable)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TICKET\tSTATE\tCLASS\tWINDOW\tTITLE")
	cursor := ""
	for {
		page, next, err := st.Tickets(ctx, t.ID, store.TicketFilter{States: states, Cursor: cursor, Limit: 500})
		if err != nil {
			return c.fail(err)
		}
		for _, row := range page {
			name := row.Reference
			if name == "" {
				name = row.ID
			}
			window := "-"
			if !row.WindowStart.IsZero() {
				window = row.WindowStart.Format("2006-01-02 15:04Z") + " → " + row.WindowEnd.Format("2006-01-02 15:04Z")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, row.State, row.Class, window, row.Title)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	tw.Flush()
	return 0
}

func (c *cli) ticketShow(ctx context.Context, args []string) int {
	var tf tenantFlags
	fs := c.tenantFlagSet("ticket show", &tf)
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		if fs.NArg() != 1 {
			fmt.Fprintln(c.stderr, "driftwatch-collector ticket show: want one ticket ID or reference")
		}
		return 2
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	tk, err := (&changes.Manager{Store: st}).Ticket(ctx, t.ID, fs.Arg(0))
	if err != nil {
		return c.fail(fmt.Errorf("ticket %s: %w", fs.Arg(0), err))
	}
	return c.printJSON(tk)
}

func (c *cli) ticketAct(ctx context.Context, args []string) int {
	var tf tenantFlags
	var af actorFlags
	var action, comment string
	fs := c.tenantFlagSet("ticket act", &tf)
	af.add(fs)
	fs.StringVar(&action, "action", "", "workflow `ACTION`")
	fs.StringVar(&comment, "comment", "", "comment (required to reject or cancel)")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		if fs.NArg() != 1 {
			fmt.Fprintln(c.stderr, "driftwatch-collector ticket act: want one ticket ID or reference")
		}
		return 2
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	by, err := af.actor(t.ID)
	if err != nil {
		return c.fail(err)
	}
	m := &changes.Manager{Store: st}
	tk, err := m.Act(ctx, t.ID, fs.Arg(0), ticket.Action(action), by, comment)
	if err != nil && tk == nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "ticket %s: %s\n", tk.Name(), tk.State)
	if len(tk.PendingApproval) > 0 {
		fmt.Fprintf(c.stdout, "waiting for the approval of: %v\n", tk.PendingApproval)
	}
	if err != nil {
		return c.fail(err)
	}
	return 0
}

func (c *cli) policyLoad(ctx context.Context, args []string) int {
	var tf tenantFlags
	var file, as string
	fs := c.tenantFlagSet("policy load", &tf)
	fs.StringVar(&file, "file", "", "policy `FILE` (HCL)")
	fs.StringVar(&as, "as", "cli", "who changes it (`EMAIL`)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	pol, err := policy.Load(file)
	if err != nil {
		if d, ok := hclconf.AsDiagnostics(err); ok {
			d.WriteText(c.stderr)
			return 2
		}
		return c.fail(err)
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	m := &changes.Manager{Store: st}
	_, version, err := m.Policy(ctx, t.ID)
	if err != nil {
		return c.fail(err)
	}
	v, err := m.SetPolicy(ctx, t.ID, pol, version, as)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "policy of tenant %s: version %d from %s\n", t.Name, v, file)
	return 0
}

func (c *cli) policyShow(ctx context.Context, args []string) int {
	var tf tenantFlags
	fs := c.tenantFlagSet("policy show", &tf)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	pol, _, err := (&changes.Manager{Store: st}).Policy(ctx, t.ID)
	if err != nil {
		return c.fail(err)
	}
	return c.printJSON(pol)
}

func (c *cli) auditVerify(ctx context.Context, args []string) int {
	var tf tenantFlags
	fs := c.tenantFlagSet("audit verify", &tf)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	res, err := store.VerifyAudit(ctx, st, t.ID)
	if err != nil {
		return c.fail(err)
	}
	if res.Break != nil {
		fmt.Fprintf(c.stdout, "audit log of tenant %s: BROKEN at entry %d: %s (%d entries before it verify)\n", t.Name, res.Break.Seq, res.Break.Error(), res.Checked)
		return 1
	}
	fmt.Fprintf(c.stdout, "audit log of tenant %s: intact, %d entries\n", t.Name, res.Checked)
	return 0
}

func (c *cli) auditExport(ctx context.Context, args []string) int {
	var tf tenantFlags
	var out string
	fs := c.tenantFlagSet("audit export", &tf)
	fs.StringVar(&out, "o", "", "write to `FILE` instead of stdout")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	w := c.stdout
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return c.fail(fmt.Errorf("audit export: %w", err))
		}
		defer f.Close()
		w = f
	}
	n, err := audit.ExportJSONLines(w, store.AuditLog(ctx, st, t.ID, 0))
	if err != nil {
		return c.fail(fmt.Errorf("audit export: %w", err))
	}
	if out != "" {
		fmt.Fprintf(c.stdout, "%d entries of tenant %s written to %s\n", n, t.Name, out)
	}
	return 0
}

func (c *cli) driftList(ctx context.Context, args []string) int {
	var tf tenantFlags
	var statuses multi
	fs := c.tenantFlagSet("drift list", &tf)
	fs.Var(&statuses, "status", "only items of `STATUS` (repeatable; default open and revert_requested)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	if len(statuses) == 0 {
		statuses = multi{store.DriftOpen, store.DriftRevertRequested}
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	hosts, err := st.Hosts(ctx, t.ID)
	if err != nil {
		return c.fail(err)
	}
	names := map[string]string{}
	for _, h := range hosts {
		names[h.ID] = h.Name
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tVERDICT\tHOST\tCHANGE\tITEM\tSINCE\tTICKETS\tSTATUS")
	cursor := ""
	for {
		page, next, err := st.DriftItems(ctx, t.ID, store.DriftFilter{Statuses: statuses, Cursor: cursor, Limit: 500})
		if err != nil {
			return c.fail(err)
		}
		for _, di := range page {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", di.Level, di.Verdict, names[di.HostID], di.Change, di.Key,
				di.ChangedAt.Format("2006-01-02 15:04:05Z"), strings.Join(di.Tickets, ","), di.Status)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	tw.Flush()
	return 0
}
