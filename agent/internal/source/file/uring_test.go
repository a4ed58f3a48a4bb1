//go:build linux

package file

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// withRing runs fn with the rings on or off.
func withRing(t *testing.T, on bool, fn func()) {
	t.Helper()
	old := ringDisabled.Load()
	ringDisabled.Store(!on)
	defer ringDisabled.Store(old)
	fn()
}

// ringTree is tree plus the sizes around the read-ahead buffer: empty, one
// byte, exactly the buffer, one byte over, several buffers; in more
// directories than one batch of the walker holds.
func ringTree(t *testing.T) string {
	root := tree(t)
	sizes := []int{0, 1, prefetchBytes - 1, prefetchBytes, prefetchBytes + 1, 3*prefetchBytes + 17}
	for i, n := range sizes {
		p := filepath.Join(root, "sizes", fmt.Sprintf("f%d.conf", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{'a' + byte(i)}, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for d := range 3 {
		for f := range 150 {
			p := filepath.Join(root, "many", fmt.Sprint(d), fmt.Sprintf("%03d.conf", f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("key%d = %d\n", f, d), f+1)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func collectWith(t *testing.T, root string, opt Options, ring bool) sourcetest.Result {
	t.Helper()
	var res sourcetest.Result
	withRing(t, ring, func() {
		opt.Paths = []string{root}
		src, err := New("files.t", opt)
		if err != nil {
			t.Fatal(err)
		}
		res = *sourcetest.Collect(t, src)
	})
	if res.Err != nil {
		t.Fatalf("ring %v: %v", ring, res.Err)
	}
	return res
}

// Read ahead through io_uring or file by file, a scan observes the same
// items, digests and content, whatever the file's size against the
// read-ahead buffer.
func TestRingAndPlainScansAgree(t *testing.T) {
	hasRing := false
	if pb := newPrefetcher(); pb != nil {
		hasRing = true
		pb.stop()
	} else {
		t.Log("this kernel gives no io_uring: both scans take the plain way")
	}
	root := ringTree(t)
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"digests", Options{}},
		{"content", Options{Content: true, MaxContentSize: 1 << 20}},
		{"content capped", Options{Content: true, MaxContentSize: prefetchBytes}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ringFiles.Load()
			ring := collectWith(t, root, tc.opt, true)
			if read := ringFiles.Load() - before; hasRing && read < 450 {
				t.Errorf("the ring read ahead %d files of the tree's 470", read)
			}
			before = ringFiles.Load()
			plain := collectWith(t, root, tc.opt, false)
			if read := ringFiles.Load() - before; read != 0 {
				t.Errorf("with the rings off, %d files were read ahead", read)
			}
			if len(ring.Items) != len(plain.Items) {
				t.Fatalf("ring observed %d items, plain %d", len(ring.Items), len(plain.Items))
			}
			for i := range ring.Items {
				if !reflect.DeepEqual(ring.Items[i], plain.Items[i]) {
					t.Errorf("item %s:\nring  %+v\nplain %+v", ring.Items[i].Key, ring.Items[i], plain.Items[i])
				}
			}
			if !reflect.DeepEqual(ring.Content, plain.Content) {
				t.Errorf("content differs between the ring and the plain scan")
			}
			if !reflect.DeepEqual(ring.Warnings, plain.Warnings) {
				t.Errorf("warnings: ring %v, plain %v", ring.Warnings, plain.Warnings)
			}
		})
	}
}

// A file larger than the read-ahead buffer is hashed whole: the digest is
// SHA-256 of every byte, not of the first buffer.
func TestRingHashesPastTheReadAhead(t *testing.T) {
	root := t.TempDir()
	data := make([]byte, 5*prefetchBytes+3)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(root, "large.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := collectWith(t, root, Options{}, true)
	want := baseline.Digest(sha256.Sum256(data))
	for _, it := range res.Items {
		if strings.HasSuffix(it.Key, "/large.bin") {
			if it.Digest != want {
				t.Errorf("digest %s, want %s", it.Digest, want)
			}
			return
		}
	}
	t.Fatal("large.bin not observed")
}

// A batch leaves no descriptor open: after scans the process holds as
// many as before.
func TestRingClosesWhatItOpens(t *testing.T) {
	root := ringTree(t)
	count := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(es)
	}
	before := count()
	for range 3 {
		collectWith(t, root, Options{Content: true, MaxContentSize: 1 << 20}, true)
	}
	if after := count(); after > before {
		t.Errorf("%d descriptors open after the scans, %d before", after, before)
	}
}

// DRIFTWATCH_NO_IO_URING=1 (ringDisabled) leaves the worker without a
// ring.
func TestRingDisabled(t *testing.T) {
	withRing(t, false, func() {
		if pb := newPrefetcher(); pb != nil {
			pb.stop()
			t.Error("a prefetcher with the rings turned off")
		}
	})
}
