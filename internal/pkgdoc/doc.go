// Package pkgdoc holds a test that fails for any package of the module
// without a doc comment, and for any exported identifier without one. It
// has no code of its own; run it with go test ./internal/pkgdoc.
package pkgdoc
