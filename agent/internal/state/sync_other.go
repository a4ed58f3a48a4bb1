//go:build !unix

package state

// syncFS is a no-op where the system offers no file system sync: blobs
// written without a sync of their own are checked against their digest on
// read, and a damaged one is rewritten by the next scan that stores it.
func syncFS(dir string) error { return nil }
