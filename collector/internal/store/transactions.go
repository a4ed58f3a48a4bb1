package store

// Transactions is the package-manager transactions agents report, which standard changes authorize.
type Transactions interface {
}
