//go:build linux

package file

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// tree builds a small /etc-like tree with one of each kind of file.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(content), mode.Perm()))
		must(os.Chmod(p, mode))
	}
	write("ssh/sshd_config", "PermitRootLogin no\nPort 22\n", 0o644)
	write("shadow", "root:$6$hash:19000:0:99999:7:::\n", 0o640)
	write("bin/blob", "\x00\x01\x02binary", 0o755)
	write("big.conf", strings.Repeat("x = 1\n", 400), 0o644)
	write("app.swp", "swap", 0o600)
	write("sbin/su", "#!/bin/sh\n", os.ModeSetuid|0o755)
	write("caf\xe9.conf", "latin1 name\n", 0o644)
	must(os.Symlink("ssh/sshd_config", filepath.Join(root, "link")))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	must(os.MkdirAll(filepath.Join(root, "skip"), 0o755))
	write("skip/inner", "never seen", 0o644)
	return root
}

func TestCollect(t *testing.T) {
	root := tree(t)
	src, err := New("files.etc", Options{
		Paths: []string{root}, Exclude: []string{"*.swp", root + "/skip"},
		Content: true, MaxContentSize: 1024, DigestOnly: []string{"/**/shadow"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := sourcetest.Collect(t, src)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
	}
	key := func(rel string) string { return "file:" + filepath.Join(root, rel) }
	tests := []struct {
		rel         string
		attrs       map[string]string
		content     bool
		digest      bool
		absent      bool
		wantContent string
	}{
		{rel: "ssh/sshd_config", attrs: map[string]string{"type": "file", "mode": "0644", "size": "27"}, content: true, digest: true, wantContent: "PermitRootLogin no\nPort 22\n"},
		{rel: "ssh", attrs: map[string]string{"type": "dir", "mode": "0755"}},
		{rel: "shadow", attrs: map[string]string{"type": "file", "mode": "0640"}, digest: true},
		{rel: "bin/blob", attrs: map[string]string{"type": "file", "mode": "0755"}, digest: true},
		{rel: "big.conf", attrs: map[string]string{"size": "2400"}, digest: true},
		{rel: "sbin/su", attrs: map[string]string{"mode": "4755"}, content: true, digest: true},
		{rel: "caf\xe9.conf", attrs: map[string]string{"type": "file"}, content: true, digest: true},
		{rel: "link", attrs: map[string]string{"type": "symlink", "target": "ssh/sshd_config"}},
		{rel: "fifo", attrs: map[string]string{"type": "fifo", "mode": "0600"}},
		{rel: "app.swp", absent: true},
		{rel: "skip", absent: true},
		{rel: "skip/inner", absent: true},
	}
	for _, tt := range tests {
		t.Run(baseline.EscapeBytes(tt.rel), func(t *testing.T) {
			it := res.Lookup(key(tt.rel))
			if tt.absent {
				if it != nil {
					t.Fatalf("excluded path observed: %+v", it)
				}
				return
			}
			if it == nil {
				t.Fatalf("no item for %q", key(tt.rel))
			}
			for name, want := range tt.attrs {
				if got, _ := it.Attrs.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			for _, name := range []string{"uid", "gid", "owner", "group", "mtime"} {
				if _, ok := it.Attrs.Get(name); !ok {
					t.Errorf("attribute %s missing", name)
				}
			}
			if got := !it.Digest.IsZero(); got != tt.digest {
				t.Errorf("has digest = %v, want %v", got, tt.digest)
			}
			c, has := res.Content[it.Key]
			if has != tt.content {
				t.Errorf("content kept = %v, want %v", has, tt.content)
			}
			if tt.wantContent != "" && string(c) != tt.wantContent {
				t.Errorf("content = %q", c)
			}
			if has && baseline.Sum(c) != it.Digest {
				t.Error("digest is not the SHA-256 of the content")
			}
		})
	}
}

func TestNonUTF8NameRoundTrips(t *testing.T) {
	root := tree(t)
	src, _ := New("files", Options{Paths: []string{root}})
	res := sourcetest.Collect(t, src)
	snap := &baseline.Snapshot{Host: baseline.Host{Name: "h"}, Items: res.Items}
	b, err := snap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := baseline.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want := "file:" + filepath.Join(root, "caf\xe9.conf")
	if back.Lookup(want) == nil {
		t.Fatalf("key %q lost in encoding", want)
	}
	if _, err := os.Stat(strings.TrimPrefix(want, "file:")); err != nil {
		t.Fatalf("decoded key does not name the file: %v", err)
	}
}

func TestGlobPath(t *testing.T) {
	root := tree(t)
	src, err := New("files", Options{Paths: []string{root + "/**/*.conf"}})
	if err != nil {
		t.Fatal(err)
	}
	res := sourcetest.Collect(t, src)
	var got []string
	for _, it := range res.Items {
		got = append(got, strings.TrimPrefix(it.Name(), root))
	}
	want := []string{"/big.conf", "/caf\xe9.conf"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("matched %q, want %q", got, want)
	}
}

func TestUnreadable(t *testing.T) {
	var paths []string
	// As root, a write-only sysctl file still refuses reading.
	if _, err := os.Stat("/proc/sys/vm/drop_caches"); err == nil {
		paths = append(paths, "/proc/sys/vm/drop_caches")
	}
	if os.Geteuid() != 0 {
		p := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(p, []byte("x"), 0o000)
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		t.Skip("no unreadable file available on this system")
	}
	src, _ := New("files", Options{Paths: paths, Content: true, MaxContentSize: 1 << 20})
	res := sourcetest.Collect(t, src)
	if res.Err != nil {
		t.Fatalf("source failed: %v", res.Err)
	}
	for _, p := range paths {
		it := res.Lookup("file:" + p)
		if it == nil {
			t.Fatalf("no item for unreadable %s", p)
		}
		if !strings.Contains(it.Error, "permission denied") {
			t.Errorf("%s: error %q, want permission denied", p, it.Error)
		}
		if _, ok := it.Attrs.Get("mode"); !ok {
			t.Errorf("%s: attributes missing on an unreadable file", p)
		}
	}
	if len(res.Warnings) != len(paths) {
		t.Errorf("warnings %v, want one per unreadable file", res.Warnings)
	}
}

func TestCacheSkipsUnchangedFiles(t *testing.T) {
	root := tree(t)
	path := filepath.Join(root, "ssh/sshd_config")
	cfg := baseline.Sum([]byte("config"))
	cache := NewCache(cfg)
	src, _ := New("files", Options{Paths: []string{root}, Content: true, MaxContentSize: 1024, Cache: cache})
	first := sourcetest.Collect(t, src)
	cachePath := filepath.Join(t.TempDir(), "cache")
	if !cache.Dirty() {
		t.Error("a first scan left the cache clean")
	}
	if err := cache.Save(cachePath); err != nil {
		t.Fatal(err)
	}

	// Poison the remembered digest: a scan that trusts the cache reports
	// the poisoned value, one that reads the file reports the real one.
	loaded, err := LoadCache(cachePath, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := loaded.Lookup(path)
	if !ok {
		t.Fatal("cache lacks the file")
	}
	poison := baseline.Sum([]byte("poison"))
	e.Digest = poison
	loaded.find(pathHash(path)).Entry = e
	src, _ = New("files", Options{Paths: []string{root}, Content: true, MaxContentSize: 1024, Cache: loaded})
	if got := sourcetest.Collect(t, src).Lookup("file:" + path).Digest; got != poison {
		t.Errorf("unchanged file was re-read (digest %s)", got.Short())
	}
	src, _ = New("files", Options{Paths: []string{root}, Content: true, MaxContentSize: 1024, Cache: loaded, Full: true})
	if got := sourcetest.Collect(t, src).Lookup("file:" + path).Digest; got != first.Lookup("file:"+path).Digest {
		t.Errorf("-full scan used the cache")
	}

	// A changed file is re-read even with the cache.
	os.WriteFile(path, []byte("PermitRootLogin yes\n"), 0o644)
	src, _ = New("files", Options{Paths: []string{root}, Content: true, MaxContentSize: 1024, Cache: loaded})
	if got := sourcetest.Collect(t, src).Lookup("file:" + path).Digest; got != baseline.Sum([]byte("PermitRootLogin yes\n")) {
		t.Errorf("changed file not re-read")
	}

	// Another configuration does not use this cache.
	other, _ := LoadCache(cachePath, baseline.Sum([]byte("other config")))
	if _, ok := other.Lookup(path); ok {
		t.Error("cache reused under another configuration")
	}
}

func TestCacheCleanAfterUnchangedScan(t *testing.T) {
	root := tree(t)
	cfg := baseline.Sum([]byte("c"))
	cachePath := filepath.Join(t.TempDir(), "cache")
	c := NewCache(cfg)
	src, _ := New("files", Options{Paths: []string{root}, Cache: c})
	sourcetest.Collect(t, src)
	if err := c.Save(cachePath); err != nil {
		t.Fatal(err)
	}
	c2, err := LoadCache(cachePath, cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, _ = New("files", Options{Paths: []string{root}, Cache: c2})
	sourcetest.Collect(t, src)
	if c2.Dirty() {
		t.Error("an unchanged scan made the cache dirty; it would be rewritten on every check")
	}
	// A deleted file makes it dirty: its entry must go.
	os.Remove(filepath.Join(root, "hosts"))
	os.Remove(filepath.Join(root, "big.conf"))
	c3, _ := LoadCache(cachePath, cfg)
	src, _ = New("files", Options{Paths: []string{root}, Cache: c3})
	sourcetest.Collect(t, src)
	if !c3.Dirty() {
		t.Error("a scan with a deleted file left the cache clean")
	}
}

func TestCacheDamagedFileIgnored(t *testing.T) {
	cfg := baseline.Sum([]byte("c"))
	p := filepath.Join(t.TempDir(), "cache")
	c := NewCache(cfg)
	c.Store("/etc/x", Entry{Size: 1})
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-5], 0o600)
	got, err := LoadCache(p, cfg)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("err = %v, want a truncated-cache error", err)
	}
	if _, ok := got.Lookup("/etc/x"); ok {
		t.Error("a damaged cache was used")
	}
}

func TestCacheCorruptedFileIgnored(t *testing.T) {
	cfg := baseline.Sum([]byte("c"))
	p := filepath.Join(t.TempDir(), "cache")
	c := NewCache(cfg)
	c.Store("/etc/x", Entry{Size: 1, Digest: baseline.Sum([]byte("x"))})
	c.Store("/etc/y", Entry{Size: 2, Digest: baseline.Sum([]byte("y"))})
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadCache(p, cfg); err != nil {
		t.Fatalf("intact cache: %v", err)
	} else if e, ok := got.Lookup("/etc/y"); !ok || e.Size != 2 {
		t.Fatalf("intact cache lost /etc/y: %+v %v", e, ok)
	}
	// A damaged byte inside an entry (the file keeps its length, as after
	// a crash that wrote some blocks and not others) fails the checksum.
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o600)
	got, err := LoadCache(p, cfg)
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("err = %v, want a checksum error", err)
	}
	for _, path := range []string{"/etc/x", "/etc/y"} {
		if _, ok := got.Lookup(path); ok {
			t.Errorf("a damaged cache was used for %s", path)
		}
	}
}

func TestSameDirectoryUnderTwoNames(t *testing.T) {
	root := tree(t)
	alias := filepath.Join(t.TempDir(), "alias")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(root, "ssh"), alias))
	src, _ := New("files", Options{Paths: []string{filepath.Join(root, "ssh"), alias}})
	res := sourcetest.Collect(t, src)
	if len(res.Items) != 2 { // the directory and sshd_config, once
		var keys []string
		for _, it := range res.Items {
			keys = append(keys, it.Key)
		}
		t.Errorf("items %q, want the directory walked once", keys)
	}
}

func TestAttrsInNameOrder(t *testing.T) {
	root := tree(t)
	src, _ := New("files", Options{Paths: []string{root}})
	for _, it := range sourcetest.Collect(t, src).Items {
		for i := 1; i < len(it.Attrs); i++ {
			if it.Attrs[i-1].Name >= it.Attrs[i].Name {
				t.Fatalf("%s: attributes out of order: %v", it.Key, it.Attrs)
			}
		}
	}
}

// A targeted rescan observes only its targets, and only where the
// configured paths and excludes would have.
func TestTargets(t *testing.T) {
	root := tree(t)
	for _, tt := range []struct {
		name    string
		paths   []string
		targets []Target
		want    []string // relative to root
	}{
		{"directory, recursive", []string{root}, []Target{{Path: root + "/ssh", Recursive: true}}, []string{"ssh", "ssh/sshd_config"}},
		{"directory alone", []string{root}, []Target{{Path: root + "/ssh"}}, []string{"ssh"}},
		{"one file", []string{root}, []Target{{Path: root + "/big.conf"}}, []string{"big.conf"}},
		{"excluded file", []string{root}, []Target{{Path: root + "/app.swp"}}, nil},
		{"under an excluded directory", []string{root}, []Target{{Path: root + "/skip/inner"}, {Path: root + "/skip", Recursive: true}}, nil},
		{"outside the paths", []string{root + "/ssh"}, []Target{{Path: root + "/big.conf"}}, nil},
		{"gone", []string{root}, []Target{{Path: root + "/deleted"}, {Path: root + "/gone", Recursive: true}}, nil},
		{"pattern filters", []string{root + "/**/*.conf"}, []Target{{Path: root, Recursive: true}}, []string{"big.conf", "caf\xe9.conf"}},
		{"overlapping targets once", []string{root}, []Target{{Path: root + "/ssh", Recursive: true}, {Path: root + "/ssh/sshd_config"}}, []string{"ssh", "ssh/sshd_config"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("files.etc", Options{Paths: tt.paths, Exclude: []string{"*.swp", root + "/skip"}, Targets: tt.targets})
			if err != nil {
				t.Fatal(err)
			}
			res := sourcetest.Collect(t, src)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			var got []string
			for _, it := range res.Items {
				rel, _ := filepath.Rel(root, strings.TrimPrefix(it.Key, "file:"))
				got = append(got, rel)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("items %q, want %q", got, tt.want)
			}
		})
	}
}

// countingLimiter records what it was asked to allow.
type countingLimiter struct {
	mu    sync.Mutex
	bytes int
	max   int
}

func (l *countingLimiter) WaitN(_ context.Context, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += n
	l.max = max(l.max, n)
	return nil
}

// Every byte of content read is paced by the limiter, in chunks it can
// grant.
func TestLimiter(t *testing.T) {
	root := t.TempDir()
	sizes := []int{10, 3 << 20, 5000}
	total := 0
	for i, n := range sizes {
		if err := os.WriteFile(filepath.Join(root, "f"+strconv.Itoa(i)), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	l := &countingLimiter{}
	src, err := New("files.x", Options{Paths: []string{root}, Limiter: l})
	if err != nil {
		t.Fatal(err)
	}
	if res := sourcetest.Collect(t, src); res.Err != nil {
		t.Fatal(res.Err)
	}
	if l.bytes != total || l.max > paceChunk {
		t.Errorf("limiter asked for %d bytes (largest wait %d), want %d in waits of at most %d", l.bytes, l.max, total, paceChunk)
	}
}
