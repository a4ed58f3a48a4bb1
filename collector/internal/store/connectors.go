package store

// Connectors is the state of the change-source connectors: cursors, status and credentials, shared by every collector.
type Connectors interface {
}
