//go:build !unix

package pkgtx

// lock does nothing where there are no package manager hooks; each record
// is written atomically all the same.
func lock(dir string) (func(), error) { return func() {}, nil }
