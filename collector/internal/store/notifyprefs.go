package store

// NotifyPrefs is the per-recipient notification preferences and per-tenant notification settings.
type NotifyPrefs interface {
}
