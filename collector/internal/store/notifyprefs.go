package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Notification lists a recipient can be on, as NotifyPref.List names them.
const (
	// ListDigest is the scheduled digest.
	ListDigest = "digest"
	// ListSummary is the level 2 summary.
	ListSummary = "summary"
	// ListAlert is the level 3 alerts.
	ListAlert = "alert"
)

// NotifyLists are the lists a recipient can leave or join, in the order
// pages show them.
var NotifyLists = []string{ListDigest, ListSummary, ListAlert}

// NotifyPref is one recipient's choice about one list of one tenant: a
// recipient without a stored choice gets every list they are addressed on.
type NotifyPref struct {
	TenantID string
	// Recipient is the bare address, lowercased (NormalizeRecipient).
	Recipient string
	// List is ListDigest, ListSummary or ListAlert.
	List string
	// Enabled is false when the recipient opted out.
	Enabled bool
	// UpdatedAt is when the choice was made; Source how ("one-click",
	// "page", or the signed-in user's email).
	UpdatedAt time.Time
	Source    string
}

// TenantNotifySettings are a tenant's notification settings as set
// through the API: the JSON of notify.Settings, kept as sent.
type TenantNotifySettings struct {
	TenantID string
	// Settings is the settings' JSON object.
	Settings []byte
	// Version counts the changes, from 1.
	Version   int
	UpdatedAt time.Time
	// UpdatedBy is who set them (a user's email).
	UpdatedBy string
}

// NotifyPrefs is the per-recipient notification preferences, the
// per-tenant notification settings set through the API, and the key that
// signs the links of notification emails.
type NotifyPrefs interface {
	// SetNotifyPref stores a recipient's choice about a list, replacing
	// the one stored. ErrNotFound when the tenant does not exist;
	// ErrInvalid for an empty recipient or an unknown list.
	SetNotifyPref(ctx context.Context, p NotifyPref) error
	// NotifyPrefs lists the stored choices of a tenant's recipients, by
	// recipient and list; recipient "" lists every recipient's.
	NotifyPrefs(ctx context.Context, tenantID, recipient string) ([]NotifyPref, error)

	// PutNotifySettings stores a tenant's settings, whose JSON must be an
	// object, as the next version, and returns it. ErrNotFound when the
	// tenant does not exist; ErrInvalid when settings is not a JSON object.
	PutNotifySettings(ctx context.Context, tenantID string, settings []byte, by string, at time.Time) (int, error)
	// NotifySettings returns a tenant's settings; ErrNotFound when none
	// were set.
	NotifySettings(ctx context.Context, tenantID string) (TenantNotifySettings, error)
	// AllNotifySettings lists every tenant's settings, by tenant ID.
	AllNotifySettings(ctx context.Context) ([]TenantNotifySettings, error)
	// DeleteNotifySettings removes a tenant's settings; ErrNotFound when
	// none were set.
	DeleteNotifySettings(ctx context.Context, tenantID string) error

	// NotifySigningKey returns the key that signs the links of
	// notification emails, storing key first when none is stored: every
	// collector sharing the store gets the same key, whoever stored it.
	// key must be at least 32 bytes.
	NotifySigningKey(ctx context.Context, key []byte) ([]byte, error)
}

// NormalizeRecipient returns the form recipients are kept and compared
// in: trimmed and lowercased.
func NormalizeRecipient(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// Validate checks what SetNotifyPref requires.
func (p *NotifyPref) Validate() error {
	if p.TenantID == "" || p.Recipient == "" {
		return fmt.Errorf("%w: notification preference without tenant or recipient", ErrInvalid)
	}
	if p.Recipient != NormalizeRecipient(p.Recipient) {
		return fmt.Errorf("%w: recipient %q is not normalized", ErrInvalid, p.Recipient)
	}
	for _, l := range NotifyLists {
		if p.List == l {
			return nil
		}
	}
	return fmt.Errorf("%w: unknown notification list %q: want %s", ErrInvalid, p.List, strings.Join(NotifyLists, ", "))
}
