package file

import (
	"io/fs"
	"os"
	"syscall"
)

// statInfo is what the source needs of a stat, portably.
type statInfo struct {
	uid, gid   uint32
	hasOwner   bool
	ino, dev   uint64
	ctime      int64
	rdev       uint64
	hasDevNums bool
}

func sysStat(fi fs.FileInfo) statInfo {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statInfo{}
	}
	return statInfo{
		uid: st.Uid, gid: st.Gid, hasOwner: true,
		ino: st.Ino, dev: st.Dev,
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
		rdev:  st.Rdev, hasDevNums: true,
	}
}

// openFile opens a regular file for reading without following a symlink put
// in its place, without blocking on a FIFO put in its place, and without
// updating its access time where the kernel allows that.
func openFile(path string) (*os.File, error) {
	const flags = syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	f, err := os.OpenFile(path, flags|syscall.O_NOATIME, 0)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok && pe.Err == syscall.EPERM {
			f, err = os.OpenFile(path, flags, 0)
		}
	}
	return f, err
}

func devMajorMinor(rdev uint64) (uint64, uint64) {
	major := (rdev >> 8) & 0xfff
	major |= (rdev >> 32) &^ 0xfff
	minor := rdev & 0xff
	minor |= (rdev >> 12) &^ 0xff
	return major, minor
}
