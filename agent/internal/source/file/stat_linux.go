package file

import (
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// statInfo is what the source needs of a stat, portably.
type statInfo struct {
	mode       fs.FileMode
	size       int64
	mtime      int64 // nanoseconds since the epoch
	uid, gid   uint32
	hasOwner   bool
	ino, dev   uint64
	ctime      int64
	rdev       uint64
	hasDevNums bool
}

// dirHandle is an open directory whose entries workers stat and open by
// name. It is closed when the walker and every job holding it are done.
type dirHandle struct {
	fd   int
	refs atomic.Int32
}

// listDir opens dir and lists its entries with getdents on the same
// descriptor, which stays open for the workers' relative lookups until the
// returned handle's last release. buf is the getdents buffer, reused from
// one directory to the next.
func listDir(dir string, buf []byte) (*dirHandle, []dirEntry, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	h := &dirHandle{fd: fd}
	h.refs.Store(1)
	var entries []dirEntry
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return h, entries, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return h, entries, nil
		}
		entries = parseDirents(buf[:n], entries)
	}
}

// parseDirents appends the entries of a getdents64 buffer: each record is
// inode (8 bytes), offset (8), record length (2), type (1) and a
// NUL-terminated name.
func parseDirents(b []byte, entries []dirEntry) []dirEntry {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		typ := b[18]
		name := b[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[reclen:]
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		entries = append(entries, dirEntry{name: string(name), isDir: typ == unix.DT_DIR, isReg: typ == unix.DT_REG})
	}
	return entries
}

func (h *dirHandle) acquire() {
	if h != nil {
		h.refs.Add(1)
	}
}

func (h *dirHandle) release() {
	if h != nil && h.refs.Add(-1) == 0 {
		unix.Close(h.fd)
	}
}

// lstatAt stats name in dir (or path when dir is nil) without following a
// final symlink, straight from the system call: no FileInfo is allocated
// for each of 100,000 files.
func lstatAt(dir *dirHandle, name, path string) (statInfo, error) {
	var st unix.Stat_t
	for {
		var err error
		if dir != nil {
			err = unix.Fstatat(dir.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		} else {
			err = unix.Lstat(path, &st)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return statInfo{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
		}
		return fromStat(&st), nil
	}
}

// openStatAt opens what the directory listed as a regular file and stats
// the open descriptor: the kernel resolves the name once, for the open,
// instead of once for a stat and again for the open. The caller checks the
// returned mode (the entry may have been replaced since it was listed) and
// closes the file. On any error nothing is open, and the caller falls back
// to lstatAt, which reports a vanished or replaced entry as before.
func openStatAt(dir *dirHandle, name, path string) (io.ReadCloser, statInfo, error) {
	f, err := openFD(dir, name, path)
	if err != nil {
		return nil, statInfo{}, err
	}
	var st unix.Stat_t
	for {
		err := unix.Fstat(f.fd, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			f.Close()
			return nil, statInfo{}, &fs.PathError{Op: "fstat", Path: path, Err: err}
		}
		return f, fromStat(&st), nil
	}
}

// fromStat converts a system stat into the source's portable form.
func fromStat(st *unix.Stat_t) statInfo {
	mode := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if st.Mode&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return statInfo{
		mode: mode, size: st.Size,
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		uid:   st.Uid, gid: st.Gid, hasOwner: true,
		ino: st.Ino, dev: st.Dev,
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
		rdev:  st.Rdev, hasDevNums: true,
	}
}

func (s statInfo) modTime() time.Time { return time.Unix(0, s.mtime) }

// fdFile reads a file through its descriptor with plain system calls.
type fdFile struct {
	fd   int
	path string
}

func (f *fdFile) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n == 0 && len(b) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *fdFile) Close() error { return unix.Close(f.fd) }

// openAt opens a regular file (name in dir, or path when dir is nil) for
// reading without following a symlink put in its place, without blocking on
// a FIFO put in its place, and without updating its access time where the
// kernel allows that.
func openAt(dir *dirHandle, name, path string) (io.ReadCloser, error) {
	f, err := openFD(dir, name, path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openFD is openAt returning the descriptor's own type.
func openFD(dir *dirHandle, name, path string) (*fdFile, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	open := func(flags int) (int, error) {
		if dir != nil {
			return unix.Openat(dir.fd, name, flags, 0)
		}
		return unix.Open(path, flags, 0)
	}
	for {
		fd, err := open(flags | unix.O_NOATIME)
		if err == unix.EPERM {
			fd, err = open(flags)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &fdFile{fd: fd, path: path}, nil
	}
}

func devMajorMinor(rdev uint64) (uint64, uint64) {
	return uint64(unix.Major(rdev)), uint64(unix.Minor(rdev))
}
