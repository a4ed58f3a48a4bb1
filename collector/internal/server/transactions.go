package server

import (
	"fmt"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// maxReportTransactions bounds the package transactions one report
// carries.
const maxReportTransactions = 1000

// reportTransactions checks the package transactions a report carries
// (1.3) and returns them as the change manager stores them, each with the
// keys of the drift's changes that happened in it. A report without any
// costs nothing.
func reportTransactions(rep *api.Report, d *baseline.Drift) ([]store.PackageTransaction, *rejection) {
	if len(rep.Transactions) == 0 && len(rep.ItemTransactions) == 0 {
		return nil, nil
	}
	if len(rep.Transactions) > maxReportTransactions {
		return nil, invalid("report.transactions", "%d package transactions; at most %d per report", len(rep.Transactions), maxReportTransactions)
	}
	byID := make(map[string]int, len(rep.Transactions))
	out := make([]store.PackageTransaction, 0, len(rep.Transactions))
	for i, t := range rep.Transactions {
		field := fmt.Sprintf("report.transactions[%d]", i)
		switch {
		case t.ID == "":
			return nil, invalid(field+".id", "a package transaction needs an id")
		case len(t.ID) > 200:
			return nil, invalid(field+".id", "package transaction id is %d bytes long; at most 200", len(t.ID))
		case t.Manager != api.ManagerApt && t.Manager != api.ManagerDpkg && t.Manager != api.ManagerDnf && t.Manager != api.ManagerRPM:
			return nil, invalid(field+".manager", "package transaction %s: manager %q is not apt, dpkg, dnf or rpm", t.ID, t.Manager)
		case t.Started.IsZero():
			return nil, invalid(field+".started", "package transaction %s: started is required", t.ID)
		case !t.Ended.IsZero() && t.Ended.Before(t.Started):
			return nil, invalid(field+".ended", "package transaction %s ends before it starts", t.ID)
		}
		if _, dup := byID[t.ID]; dup {
			return nil, invalid(field+".id", "package transaction %s is listed twice", t.ID)
		}
		byID[t.ID] = i
		st := store.PackageTransaction{ID: t.ID, Manager: t.Manager, Command: t.Command, User: t.User, Started: t.Started,
			Ended: t.Ended, Incomplete: t.Incomplete, Packages: make([]store.PackageChange, 0, len(t.Packages))}
		for _, p := range t.Packages {
			st.Packages = append(st.Packages, store.PackageChange{Name: p.Name, Arch: p.Arch, From: p.From, To: p.To, Action: p.Action})
		}
		out = append(out, st)
	}
	var keys map[string]bool
	if d != nil {
		keys = make(map[string]bool, len(d.Changes))
		for i := range d.Changes {
			keys[d.Changes[i].Key] = true
		}
	}
	for key, id := range rep.ItemTransactions {
		i, ok := byID[id]
		switch {
		case !ok:
			return nil, invalid("report.item_transactions", "%s is attributed to package transaction %q, which the report does not carry", key, id)
		case !keys[key]:
			return nil, invalid("report.item_transactions", "%s is attributed to package transaction %s, but the drift has no change of it", key, id)
		}
		out[i].Items = append(out[i].Items, store.TransactionItem{Key: key})
	}
	return out, nil
}
