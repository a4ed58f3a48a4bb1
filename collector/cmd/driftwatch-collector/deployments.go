package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func init() {
	commands["deployment record"] = (*cli).deploymentRecord
	commands["deployment list"] = (*cli).deploymentList
	moreUsage = append(moreUsage,
		"  driftwatch-collector deployment record -config FILE -tenant NAME -ticket REF -commit SHA [-env prod] [-hosts a,b] [-labels role=web] [-at TIME] [-repo URL] [-url PIPELINE_URL] [-as WHO]",
		"  driftwatch-collector deployment list -config FILE -tenant NAME [-ticket REF] [-host NAME] [-since TIME]",
	)
}

// deploySplitList splits "a,b, c" into its non-empty parts.
func deploySplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// deployParseLabels reads "role=web,env=prod".
func deployParseLabels(s string) (map[string]string, error) {
	parts := deploySplitList(s)
	if len(parts) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(parts))
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("-labels: %q is not name=value", p)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// deployParseTime reads an RFC 3339 time; empty is the zero time.
func deployParseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: give an RFC 3339 time such as 2026-03-01T21:30:00Z", flag, s)
	}
	return t, nil
}

// deployRecorder is who a deployment is recorded as without -as: the
// user running the command.
func deployRecorder() string {
	for _, v := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u + " (cli)"
		}
	}
	return "cli"
}

func (c *cli) deploymentRecord(ctx context.Context, args []string) int {
	var tf tenantFlags
	var spec changes.DeploymentSpec
	var hosts, labels, at, as string
	fs := c.tenantFlagSet("deployment record", &tf)
	fs.StringVar(&spec.Ticket, "ticket", "", "the change ticket's `REFERENCE` or ID")
	fs.StringVar(&spec.Commit, "commit", "", "the deployed revision (`SHA`)")
	fs.StringVar(&spec.Environment, "env", "", "the `ENVIRONMENT` deployed to (prod, staging …)")
	fs.StringVar(&hosts, "hosts", "", "host names or IDs deployed to, comma-separated (`a,b`)")
	fs.StringVar(&labels, "labels", "", "select the hosts by labels (`role=web,env=prod`: every host with all of them)")
	fs.StringVar(&at, "at", "", "when it was deployed, RFC 3339 (`TIME`; default now)")
	fs.StringVar(&spec.Repository, "repo", "", "the repository's `URL`")
	fs.StringVar(&spec.PipelineURL, "url", "", "the pipeline run's `URL`")
	fs.StringVar(&as, "as", deployRecorder(), "who records it (`WHO`)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	var err error
	spec.Hosts = deploySplitList(hosts)
	if spec.Labels, err = deployParseLabels(labels); err != nil {
		return c.deployUsageError(err)
	}
	if spec.At, err = deployParseTime("-at", at); err != nil {
		return c.deployUsageError(err)
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	rec, err := (&changes.Manager{Store: st}).RecordDeployment(ctx, t.ID, spec, as)
	if err != nil && rec.Deployment.ID == "" {
		var fe *changes.FieldError
		if errors.As(err, &fe) {
			flag := map[string]string{"environment": "env", "repository": "repo", "pipeline_url": "url"}[fe.Field]
			if flag == "" {
				flag = fe.Field
			}
			return c.deployUsageError(fmt.Errorf("-%s: %s", flag, fe.Problem))
		}
		return c.fail(fmt.Errorf("record deployment: %w", err))
	}
	d := rec.Deployment
	fmt.Fprintf(c.stdout, "deployment %s recorded: %s commit %s", d.ID, rec.Ticket.Name(), d.Commit)
	if d.Environment != "" {
		fmt.Fprintf(c.stdout, " to %s", d.Environment)
	}
	fmt.Fprintf(c.stdout, " at %s on %s\n", d.At.Format(time.RFC3339), strings.Join(rec.Hosts, ", "))
	if rec.Authorizes {
		fmt.Fprintf(c.stdout, "it authorizes the drift on these hosts observed %s its time; %d outstanding changes judged again\n", rec.Window, rec.Reconciled)
	} else {
		fmt.Fprintf(c.stdout, "note: %s\n", rec.Note)
	}
	if err != nil {
		return c.fail(err)
	}
	return 0
}

// deployUsageError reports a wrong flag value and returns the usage exit code.
func (c *cli) deployUsageError(err error) int {
	fmt.Fprintf(c.stderr, "driftwatch-collector: %v\n", err)
	return 2
}

func (c *cli) deploymentList(ctx context.Context, args []string) int {
	var tf tenantFlags
	var ref, host, since string
	fs := c.tenantFlagSet("deployment list", &tf)
	fs.StringVar(&ref, "ticket", "", "only the deployments of this ticket (`REFERENCE` or ID)")
	fs.StringVar(&host, "host", "", "only the deployments to this host (`NAME` or ID)")
	fs.StringVar(&since, "since", "", "only the deployments at or after `TIME` (RFC 3339)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	var f store.DeploymentFilter
	var err error
	if f.Since, err = deployParseTime("-since", since); err != nil {
		return c.deployUsageError(err)
	}
	st, t, code := c.openTenant(ctx, tf)
	if st == nil {
		return code
	}
	defer st.Close()
	m := &changes.Manager{Store: st}
	if ref != "" {
		tk, err := m.Ticket(ctx, t.ID, ref)
		if err != nil {
			return c.fail(fmt.Errorf("ticket %s: %w", ref, err))
		}
		f.TicketID = tk.ID
	}
	if host != "" {
		hs, err := st.Hosts(ctx, t.ID)
		if err != nil {
			return c.fail(err)
		}
		for _, h := range hs {
			if h.Name == host || h.ID == host {
				f.HostID = h.ID
			}
		}
		if f.HostID == "" {
			return c.fail(fmt.Errorf("no host %q in tenant %s", host, t.Name))
		}
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tTICKET\tCOMMIT\tENV\tHOSTS\tBY\tID")
	f.Limit = store.MaxPageSize
	for {
		page, next, names, err := m.Deployments(ctx, t.ID, f)
		if err != nil {
			return c.fail(err)
		}
		for _, d := range page {
			hs := make([]string, 0, len(d.HostIDs))
			for _, id := range d.HostIDs {
				hs = append(hs, names[id])
			}
			env := d.Environment
			if env == "" {
				env = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.At.Format(time.RFC3339), d.TicketRef, d.Commit, env, strings.Join(hs, ","), d.By, d.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	tw.Flush()
	return 0
}
