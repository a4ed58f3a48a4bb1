package file

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading a file costs four system calls (open, stat, read, close), and on
// virtual machines whose system calls are expensive those calls, not the
// hashing, are most of a first snapshot. A worker with an io_uring submits
// them for a whole batch of files at once: opens, then stats of the open
// descriptors, then first reads of the regular files, and after the batch
// is observed, closes, each as one submission. The kernel does the same
// work; the worker enters it four times per batch instead of four times
// per file. Where io_uring is missing, refused (seccomp, the
// kernel.io_uring_disabled sysctl, a memlock limit) or an operation is
// not supported, the worker uses the plain calls, file by file.
//
// DRIFTWATCH_NO_IO_URING=1 in the environment turns it off.

// ringDisabled turns the rings off (tests and the environment switch).
var ringDisabled atomic.Bool

// ringFiles counts the files read ahead through a ring, for tests.
var ringFiles atomic.Int64

func init() {
	if os.Getenv("DRIFTWATCH_NO_IO_URING") == "1" {
		ringDisabled.Store(true)
	}
}

const (
	ringEntries   = 256 // at least the walker's batch size
	prefetchBytes = 32 << 10

	opOpenat = 18
	opClose  = 19
	opStatx  = 21
	opRead   = 22

	enterGetEvents = 1

	offSQRing = 0
	offSQEs   = 0x10000000
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  [10]uint32 // head, tail, ring_mask, ring_entries, flags, dropped, array, resv1, user_addr (2)
	cqOff                                                                  [10]uint32 // head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1, user_addr (2)
}

// uringSQE is struct io_uring_sqe (64 bytes).
type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64 // or addr2
	addr     uint64
	len      uint32
	opFlags  uint32
	userData uint64
	bufIndex uint16
	personal uint16
	fileIdx  int32
	addr3    uint64
	_        uint64
}

// uringCQE is struct io_uring_cqe (16 bytes).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is one worker's io_uring. It is not safe for concurrent use.
type ring struct {
	fd                     int
	mem, sqeMem            []byte
	sqHead, sqTail, sqMask *uint32
	sqArray                unsafe.Pointer
	cqHead, cqTail, cqMask *uint32
	cqes                   unsafe.Pointer
	sqes                   unsafe.Pointer
	queued                 []uringSQE
}

// newRing sets up an io_uring, or says why it cannot.
func newRing() (*ring, error) {
	if ringDisabled.Load() {
		return nil, errors.ErrUnsupported
	}
	var p uringParams
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, e
	}
	const featSingleMmap = 1
	if p.features&featSingleMmap == 0 {
		unix.Close(int(fd))
		return nil, errors.ErrUnsupported // before 5.4: no OPENAT either
	}
	size := max(p.sqOff[6]+p.sqEntries*4, p.cqOff[5]+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	mem, err := unix.Mmap(int(fd), offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		unix.Close(int(fd))
		return nil, err
	}
	sqeMem, err := unix.Mmap(int(fd), offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		unix.Munmap(mem)
		unix.Close(int(fd))
		return nil, err
	}
	b := unsafe.Pointer(&mem[0])
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Add(b, off)) }
	return &ring{
		fd: int(fd), mem: mem, sqeMem: sqeMem,
		sqHead: u32(p.sqOff[0]), sqTail: u32(p.sqOff[1]), sqMask: u32(p.sqOff[2]), sqArray: unsafe.Add(b, p.sqOff[6]),
		cqHead: u32(p.cqOff[0]), cqTail: u32(p.cqOff[1]), cqMask: u32(p.cqOff[2]), cqes: unsafe.Add(b, p.cqOff[5]),
		sqes: unsafe.Pointer(&sqeMem[0]),
	}, nil
}

func (r *ring) close() {
	unix.Munmap(r.sqeMem)
	unix.Munmap(r.mem)
	unix.Close(r.fd)
}

// queue adds an operation to the next submission; userData indexes the
// result.
func (r *ring) queue(e uringSQE) { r.queued = append(r.queued, e) }

// submit submits the queued operations (at most ringEntries), waits for
// all of them and stores each result (a value or -errno) in res at its
// userData. Memory the operations point to must stay alive until it
// returns, which it does only when every operation is complete.
func (r *ring) submit(res []int32) error {
	n := uint32(len(r.queued))
	if n == 0 {
		return nil
	}
	tail := atomic.LoadUint32(r.sqTail)
	mask := *r.sqMask
	for i := range r.queued {
		idx := (tail + uint32(i)) & mask
		*(*uringSQE)(unsafe.Add(r.sqes, uintptr(idx)*unsafe.Sizeof(uringSQE{}))) = r.queued[i]
		*(*uint32)(unsafe.Add(r.sqArray, uintptr(idx)*4)) = idx
	}
	atomic.StoreUint32(r.sqTail, tail+n)
	r.queued = r.queued[:0]
	toSubmit, done := n, uint32(0)
	for done < n {
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(n-done), enterGetEvents, 0, 0)
		switch e {
		case 0:
			toSubmit = 0 // all were taken: a blocking enter submits everything
		case unix.EINTR, unix.EAGAIN, unix.EBUSY:
			// Nothing or part taken: what the kernel has not consumed is
			// submitted again below.
			toSubmit = tail + n - atomic.LoadUint32(r.sqHead)
		default:
			return &fs.PathError{Op: "io_uring_enter", Path: "", Err: e}
		}
		head := atomic.LoadUint32(r.cqHead)
		ctail := atomic.LoadUint32(r.cqTail)
		cmask := *r.cqMask
		for ; head != ctail; head++ {
			c := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&cmask)*unsafe.Sizeof(uringCQE{})))
			if c.userData < uint64(len(res)) {
				res[c.userData] = c.res
			}
			done++
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	return nil
}

// prefetched is what a worker's ring found of a regular file before it is
// observed: its open descriptor, the stat of that descriptor and its first
// bytes.
type prefetched struct {
	fd   int
	st   statInfo
	data []byte // the first bytes read (all of them when eof)
	eof  bool   // data is the whole file
	ok   bool   // fd, st and data are valid; false: observe it the plain way
	pos  int    // bytes of data already handed out by Read
}

// Read hands out the prefetched bytes and then reads on from the
// descriptor.
func (p *prefetched) Read(b []byte) (int, error) {
	if p.pos < len(p.data) {
		n := copy(b, p.data[p.pos:])
		p.pos += n
		return n, nil
	}
	if p.eof {
		return 0, io.EOF
	}
	f := fdFile{fd: p.fd}
	return f.Read(b)
}

// Close does nothing: the batch's descriptors are closed together.
func (p *prefetched) Close() error { return nil }

// prefetchBatch holds one worker's per-batch prefetch state, reused from
// batch to batch.
type prefetchBatch struct {
	r     *ring
	files []prefetched
	names [][]byte
	stx   []unix.Statx_t
	bufs  []byte // prefetchBytes per job
	res   []int32
	empty [1]byte
}

// newPrefetcher returns a worker's prefetcher, or nil when it has no ring.
func newPrefetcher() *prefetchBatch {
	r, err := newRing()
	if err != nil {
		return nil
	}
	return &prefetchBatch{r: r}
}

// active reports whether the prefetcher still has its ring.
func (b *prefetchBatch) active() bool { return b != nil && b.r != nil }

// stop closes the ring.
func (b *prefetchBatch) stop() {
	if b.active() {
		b.r.close()
		b.r = nil
	}
}

// prefetch opens, stats and starts reading the regular files of batch
// that want[i] selects. It returns the prefetched files by job index (ok
// false where the plain way must be taken), or nil when the ring failed
// and was closed.
func (b *prefetchBatch) prefetch(batch []job, want func(i int) bool) []prefetched {
	n := len(batch)
	if cap(b.files) < n {
		b.files = make([]prefetched, n)
		b.names = make([][]byte, n)
		b.stx = make([]unix.Statx_t, n)
		b.bufs = make([]byte, n*prefetchBytes)
		b.res = make([]int32, n)
	}
	files := b.files[:n]
	for i := range files {
		files[i] = prefetched{fd: -1}
	}
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOATIME
	for i, j := range batch {
		if j.dir == nil || !want(i) {
			continue
		}
		b.names[i] = append(append(b.names[i][:0], j.name...), 0)
		b.r.queue(uringSQE{opcode: opOpenat, fd: int32(j.dir.fd), addr: uint64(uintptr(unsafe.Pointer(&b.names[i][0]))),
			opFlags: flags, userData: uint64(i)})
	}
	if !b.run() {
		return nil
	}
	opened := 0
	for i, j := range batch {
		if j.dir == nil || !want(i) {
			continue
		}
		if fd := b.res[i]; fd >= 0 {
			files[i].fd = int(fd)
			opened++
			b.r.queue(uringSQE{opcode: opStatx, fd: fd, addr: uint64(uintptr(unsafe.Pointer(&b.empty[0]))),
				len: unix.STATX_BASIC_STATS, opFlags: unix.AT_EMPTY_PATH, off: uint64(uintptr(unsafe.Pointer(&b.stx[i]))), userData: uint64(i)})
		}
		// An open that failed (gone, replaced by a link, no O_NOATIME
		// for this user) is retried the plain way, which reports it.
	}
	if opened == 0 {
		return files
	}
	if !b.run() {
		b.closeAll(files)
		return nil
	}
	for i := range files {
		if files[i].fd < 0 {
			continue
		}
		if b.res[i] < 0 {
			continue // observed the plain way; closed with the batch
		}
		files[i].st = fromStatx(&b.stx[i])
		files[i].ok = true
		if files[i].st.mode.IsRegular() && files[i].st.size > 0 {
			buf := b.bufs[i*prefetchBytes : (i+1)*prefetchBytes]
			b.r.queue(uringSQE{opcode: opRead, fd: int32(files[i].fd), addr: uint64(uintptr(unsafe.Pointer(&buf[0]))),
				len: prefetchBytes, off: ^uint64(0), userData: uint64(i)})
		} else {
			files[i].eof = files[i].st.mode.IsRegular() // empty, or not read at all
		}
	}
	if !b.run() {
		b.closeAll(files)
		return nil
	}
	for i := range files {
		if !files[i].ok || !files[i].st.mode.IsRegular() || files[i].st.size == 0 {
			continue
		}
		got := b.res[i]
		if got < 0 {
			files[i].ok = false // the plain way reads it again and reports
			continue
		}
		files[i].data = b.bufs[i*prefetchBytes : i*prefetchBytes+int(got)]
		// A short read of a regular file is its end.
		files[i].eof = got < prefetchBytes
	}
	ringFiles.Add(int64(opened))
	return files
}

// closeAll closes the batch's descriptors in one submission (one by one
// when the ring fails meanwhile).
func (b *prefetchBatch) closeAll(files []prefetched) {
	for i := range files {
		if files[i].fd >= 0 {
			if b.r != nil {
				b.r.queue(uringSQE{opcode: opClose, fd: int32(files[i].fd), userData: uint64(i)})
			} else {
				unix.Close(files[i].fd)
			}
		}
	}
	if b.r != nil && !b.run() {
		// The ring is gone: the closes it did not take are done here. A
		// descriptor it closed and that was reused since cannot be told
		// apart, so none is closed twice: the ring's closes are
		// complete or were never submitted when run fails.
		for i := range files {
			if files[i].fd >= 0 && b.res[i] == ringNotRun {
				unix.Close(files[i].fd)
			}
		}
	}
	for i := range files {
		files[i].fd = -1
	}
}

// ringNotRun marks a result the ring never produced.
const ringNotRun = -1 << 30

// run submits what is queued and waits for it; on failure it closes the
// ring (the worker goes on without one) and returns false.
func (b *prefetchBatch) run() bool {
	for i := range b.res {
		b.res[i] = ringNotRun
	}
	if err := b.r.submit(b.res); err != nil {
		b.r.queued = b.r.queued[:0]
		b.r.close()
		b.r = nil
		return false
	}
	return true
}

// fromStatx converts a statx result into the source's portable form, as
// fromStat does a stat's.
func fromStatx(x *unix.Statx_t) statInfo {
	var st unix.Stat_t
	st.Mode = uint32(x.Mode)
	st.Size = int64(x.Size)
	st.Mtim = unix.Timespec{Sec: x.Mtime.Sec, Nsec: int64(x.Mtime.Nsec)}
	st.Ctim = unix.Timespec{Sec: x.Ctime.Sec, Nsec: int64(x.Ctime.Nsec)}
	st.Uid, st.Gid = x.Uid, x.Gid
	st.Ino = x.Ino
	st.Dev = unix.Mkdev(x.Dev_major, x.Dev_minor)
	st.Rdev = unix.Mkdev(x.Rdev_major, x.Rdev_minor)
	return fromStat(&st)
}
