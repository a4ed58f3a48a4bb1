//go:build !linux && !windows && !plan9 && !js && !wasip1

package file

import (
	"io/fs"
	"syscall"
)

func statStat(fi fs.FileInfo) statInfo {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statInfo{}
	}
	return statInfo{uid: st.Uid, gid: st.Gid, hasOwner: true, ino: uint64(st.Ino), dev: uint64(st.Dev), rdev: uint64(st.Rdev), hasDevNums: true}
}
