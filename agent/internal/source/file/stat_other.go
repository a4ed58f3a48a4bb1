//go:build !linux

package file

import (
	"io/fs"
	"os"
)

type statInfo struct {
	uid, gid   uint32
	hasOwner   bool
	ino, dev   uint64
	ctime      int64
	rdev       uint64
	hasDevNums bool
}

// sysStat gives what the portable FileInfo holds; owner and change time are
// not available here, so the cache relies on size and modification time.
func sysStat(fi fs.FileInfo) statInfo { return statStat(fi) }

func openFile(path string) (*os.File, error) { return os.Open(path) }

func devMajorMinor(rdev uint64) (uint64, uint64) { return rdev >> 8, rdev & 0xff }
