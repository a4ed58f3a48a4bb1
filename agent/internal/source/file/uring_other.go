//go:build !linux

package file

import "io"

// prefetched is a file read ahead of its observation; only Linux's
// io_uring reads ahead (see uring_linux.go).
type prefetched struct {
	st statInfo
	ok bool
}

func (p *prefetched) Read([]byte) (int, error) { return 0, io.EOF }

func (p *prefetched) Close() error { return nil }

// prefetchBatch reads batches ahead; never made here.
type prefetchBatch struct{}

func newPrefetcher() *prefetchBatch { return nil }

func (b *prefetchBatch) active() bool { return false }

func (b *prefetchBatch) stop() {}

func (b *prefetchBatch) prefetch([]job, func(int) bool) []prefetched { return nil }

func (b *prefetchBatch) closeAll([]prefetched) {}
