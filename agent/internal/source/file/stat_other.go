//go:build !linux

package file

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

type statInfo struct {
	mode       fs.FileMode
	size       int64
	mtime      int64
	uid, gid   uint32
	hasOwner   bool
	ino, dev   uint64
	ctime      int64
	rdev       uint64
	hasDevNums bool
}

// dirHandle stands for an open directory; here entries are looked up by
// their full path.
type dirHandle struct{}

// listDir lists dir's entries; they are looked up by their full path.
func listDir(dir string, _ []byte) (*dirHandle, []dirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	entries := make([]dirEntry, 0, len(des))
	for _, e := range des {
		entries = append(entries, dirEntry{name: e.Name(), isDir: e.IsDir(), isReg: e.Type().IsRegular()})
	}
	return nil, entries, err
}

func (h *dirHandle) acquire() {}

func (h *dirHandle) release() {}

// lstatAt gives what the portable FileInfo holds, plus owner and inode
// where the system has them.
func lstatAt(_ *dirHandle, _, path string) (statInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return statInfo{}, err
	}
	st := statStat(fi)
	st.mode, st.size, st.mtime = fi.Mode(), fi.Size(), fi.ModTime().UnixNano()
	return st, nil
}

func (s statInfo) modTime() time.Time { return time.Unix(0, s.mtime) }

func openAt(_ *dirHandle, _, path string) (io.ReadCloser, error) { return os.Open(path) }

// openStatAt is not offered here: the source stats each path first.
func openStatAt(_ *dirHandle, _, _ string) (io.ReadCloser, statInfo, error) {
	return nil, statInfo{}, errors.ErrUnsupported
}

func devMajorMinor(rdev uint64) (uint64, uint64) { return rdev >> 8, rdev & 0xff }
