package store

// Deployments is the CI deployment notes that authorize drift of an approved ticket.
type Deployments interface {
}
