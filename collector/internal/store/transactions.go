package store

import (
	"context"
	"fmt"
	"math"
	"time"
)

// PackageTransaction is one package-manager run an agent reported: what
// it changed, who ran it, when, and which drift states it caused.
type PackageTransaction struct {
	TenantID string
	HostID   string
	// ID is the agent's name for it, unique per host.
	ID string
	// Manager is apt, dpkg, dnf or rpm.
	Manager string
	// Command is the package manager's command line; User who ran it.
	Command string
	User    string
	// Started and Ended bound the run; Ended is zero while it was in
	// progress when reported.
	Started time.Time
	Ended   time.Time
	// Incomplete: the package manager did not report its end.
	Incomplete bool
	// Packages are the packages it changed; read back empty, not nil,
	// when there are none.
	Packages []PackageChange
	// Items are the drift states it caused, sorted by key.
	Items []TransactionItem
	// ReportSeq and ReceivedAt are of the newest report that carried it.
	ReportSeq  uint64
	ReceivedAt time.Time
}

// PackageChange is one package a transaction changed.
type PackageChange struct {
	Name   string `json:"name"`
	Arch   string `json:"arch,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Action string `json:"action"`
}

// TransactionItem is one drift state a transaction caused: an item key
// and the digest of the state it led to (the drift item's StateDigest).
type TransactionItem struct {
	Key         string
	StateDigest string
}

// ItemState names one state of one item on one host, to look up the
// transaction it happened in.
type ItemState struct {
	HostID      string
	Key         string
	StateDigest string
}

// Transactions is the package-manager transactions agents report, which
// standard changes authorize.
type Transactions interface {
	// PutTransactions stores the transactions one report of a host
	// carries, in one transaction: a transaction the host reported before
	// (same ID) takes the newer report's fields (its end, its packages)
	// and keeps the items it had, adding the new ones. Nothing is written
	// for none. ErrNotFound (and nothing written) when the host is not
	// the tenant's; ErrInvalid for a transaction without an ID, manager or
	// start, an item without a key or state, or an ID given twice. The
	// TenantID, HostID, ReportSeq and ReceivedAt of each transaction are
	// set from the arguments.
	PutTransactions(ctx context.Context, tenantID, hostID string, seq uint64, at time.Time, txs []PackageTransaction) error
	// ItemTransactions returns the transaction each of the given item
	// states happened in, for those that happened in one, by state. When
	// two transactions list a state, the one that started last wins.
	ItemTransactions(ctx context.Context, tenantID string, states []ItemState) (map[ItemState]PackageTransaction, error)
	// HostTransactions lists a host's transactions that started at or
	// after since, the newest first, at most limit (0: all).
	HostTransactions(ctx context.Context, tenantID, hostID string, since time.Time, limit int) ([]PackageTransaction, error)
}

// CheckTransactions checks the transactions PutTransactions is given:
// each with an ID (once), a manager and a start, each item with a key and
// a state. The error wraps ErrInvalid and names the transaction.
func CheckTransactions(seq uint64, at time.Time, txs []PackageTransaction) error {
	if seq < 1 || seq > math.MaxInt64 {
		return fmt.Errorf("package transactions of report %d: sequence out of range: %w", seq, ErrInvalid)
	}
	if at.IsZero() {
		return fmt.Errorf("package transactions of report %d: no time: %w", seq, ErrInvalid)
	}
	ids := make(map[string]bool, len(txs))
	for i, t := range txs {
		switch {
		case t.ID == "":
			return fmt.Errorf("package transaction %d: no ID: %w", i, ErrInvalid)
		case ids[t.ID]:
			return fmt.Errorf("package transaction %s: given twice: %w", t.ID, ErrInvalid)
		case t.Manager == "":
			return fmt.Errorf("package transaction %s: no manager: %w", t.ID, ErrInvalid)
		case t.Started.IsZero():
			return fmt.Errorf("package transaction %s: no start: %w", t.ID, ErrInvalid)
		case !t.Ended.IsZero() && t.Ended.Before(t.Started):
			return fmt.Errorf("package transaction %s: ends before it starts: %w", t.ID, ErrInvalid)
		}
		ids[t.ID] = true
		for _, it := range t.Items {
			if it.Key == "" || it.StateDigest == "" {
				return fmt.Errorf("package transaction %s: an item without a key or state: %w", t.ID, ErrInvalid)
			}
		}
	}
	return nil
}

// LatestTransaction picks, among transactions listing one state, the one
// that started last (then the greatest ID).
func LatestTransaction(a, b PackageTransaction) PackageTransaction {
	if b.Started.After(a.Started) || (b.Started.Equal(a.Started) && b.ID > a.ID) {
		return b
	}
	return a
}
