package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/agent/internal/redact"
	"github.com/driftwatch/driftwatch/baseline"
)

// emitted is one item a fake source emits, with its raw content.
type emitted struct {
	item    baseline.Item
	content string // "" emits no content
}

// fakeSource emits fixed items and warnings, then returns err. With
// concurrent set it emits each item from its own goroutine.
type fakeSource struct {
	name       string
	kind       string
	items      []emitted
	warnings   int
	err        error
	concurrent bool

	mu       sync.Mutex
	returned []baseline.Item // what emit.Item returned
}

func (f *fakeSource) Name() string { return f.name }
func (f *fakeSource) Kind() string { return f.kind }

func (f *fakeSource) Collect(ctx context.Context, emit Emitter) error {
	one := func(e emitted) {
		var content []byte
		if e.content != "" {
			content = []byte(e.content)
		}
		it := emit.Item(e.item, content)
		f.mu.Lock()
		f.returned = append(f.returned, it)
		f.mu.Unlock()
	}
	if f.concurrent {
		var wg sync.WaitGroup
		for _, e := range f.items {
			wg.Go(func() { one(e) })
		}
		wg.Wait()
	} else {
		for _, e := range f.items {
			one(e)
		}
	}
	for i := range f.warnings {
		emit.Warn(fmt.Errorf("problem %d", i))
	}
	return f.err
}

// ctxSource returns as soon as its context ends, as the Source contract asks.
type ctxSource struct{}

func (ctxSource) Name() string { return "slow" }
func (ctxSource) Kind() string { return baseline.KindCommand }
func (ctxSource) Collect(ctx context.Context, emit Emitter) error {
	<-ctx.Done()
	return ctx.Err()
}

// failingBlobs is a BlobStore whose disk is full.
type failingBlobs struct{ err error }

func (f failingBlobs) PutBlob([]byte) (baseline.Digest, error) { return baseline.Digest{}, f.err }

func fileItem(path, content string) emitted {
	it := baseline.Item{Key: "file:" + path, Source: "files.etc", Attrs: baseline.Attrs{{Name: "mode", Value: "0644"}, {Name: "type", Value: "file"}}}
	if content != "" {
		it.Digest = baseline.Sum([]byte(content))
	}
	return emitted{item: it, content: content}
}

func pkgItem(name, version string) emitted {
	return emitted{item: baseline.Item{Key: "package:" + name, Source: "packages", Attrs: baseline.Attrs{{Name: "version", Value: version}}}}
}

func newRedactor(t *testing.T) *redact.Redactor {
	t.Helper()
	r, err := redact.New(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keys(s *baseline.Snapshot) []string {
	var out []string
	for _, it := range s.Items {
		out = append(out, it.Key)
	}
	return out
}

func warnings(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("problem %d", i))
	}
	return out
}

// TestRunnerSources runs sets of sources and checks what the snapshot keeps
// of each: its items and its recorded status.
func TestRunnerSources(t *testing.T) {
	tests := []struct {
		name     string
		sources  []Source
		wantKeys []string
		want     []baseline.SourceStatus // Took is checked apart
	}{
		{
			name: "items are sorted by key",
			sources: []Source{
				&fakeSource{name: "packages", kind: baseline.KindPackage, items: []emitted{pkgItem("zlib", "1.3"), pkgItem("bash", "5.2"), pkgItem("openssl", "3.0.15")}},
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/motd", "hello\n"), fileItem("/etc/hosts", "127.0.0.1 localhost\n")}},
			},
			wantKeys: []string{"file:/etc/hosts", "file:/etc/motd", "package:bash", "package:openssl", "package:zlib"},
			want: []baseline.SourceStatus{
				{Name: "files.etc", Kind: "file", Status: "ok", Items: 2},
				{Name: "packages", Kind: "package", Status: "ok", Items: 3},
			},
		},
		{
			name: "items emitted concurrently are all kept",
			sources: []Source{
				&fakeSource{name: "files.etc", kind: baseline.KindFile, concurrent: true, items: []emitted{
					fileItem("/etc/c", "c\n"), fileItem("/etc/a", "a\n"), fileItem("/etc/d", "password = d\n"), fileItem("/etc/b", "b\n"),
				}},
			},
			wantKeys: []string{"file:/etc/a", "file:/etc/b", "file:/etc/c", "file:/etc/d"},
			want:     []baseline.SourceStatus{{Name: "files.etc", Kind: "file", Status: "ok", Items: 4}},
		},
		{
			name: "a failing source contributes no items and the others are kept",
			sources: []Source{
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/motd", "hello\n")}},
				&fakeSource{name: "packages", kind: baseline.KindPackage, items: []emitted{pkgItem("half-read", "1.0")},
					err: errors.New("read dpkg status /var/lib/dpkg/status: permission denied")},
				&fakeSource{name: "users", kind: baseline.KindUser, items: []emitted{{item: baseline.Item{Key: "user:root", Source: "users"}}}},
			},
			wantKeys: []string{"file:/etc/motd", "user:root"},
			want: []baseline.SourceStatus{
				{Name: "files.etc", Kind: "file", Status: "ok", Items: 1},
				{Name: "packages", Kind: "package", Status: "error", Error: "read dpkg status /var/lib/dpkg/status: permission denied"},
				{Name: "users", Kind: "user", Status: "ok", Items: 1},
			},
		},
		{
			name: "warnings make a source partial",
			sources: []Source{
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/motd", "hello\n")}, warnings: 3},
			},
			wantKeys: []string{"file:/etc/motd"},
			want: []baseline.SourceStatus{
				{Name: "files.etc", Kind: "file", Status: "partial", Items: 1, Warnings: warnings(0, 3), WarningCount: 3},
			},
		},
		{
			name: "at most 20 warnings are kept but all are counted",
			sources: []Source{
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/motd", "hello\n")}, warnings: 57},
			},
			wantKeys: []string{"file:/etc/motd"},
			want: []baseline.SourceStatus{
				{Name: "files.etc", Kind: "file", Status: "partial", Items: 1, Warnings: warnings(0, 20), WarningCount: 57},
			},
		},
		{
			name: "a key observed twice is kept from the first source",
			sources: []Source{
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/hosts", "first\n")}},
				&fakeSource{name: "files.extra", kind: baseline.KindFile, items: []emitted{fileItem("/etc/hosts", "second\n"), fileItem("/etc/other", "x\n")}},
			},
			wantKeys: []string{"file:/etc/hosts", "file:/etc/other"},
			want: []baseline.SourceStatus{
				{Name: "files.etc", Kind: "file", Status: "ok", Items: 1},
				{Name: "files.extra", Kind: "file", Status: "partial", Items: 1,
					Warnings: []string{"file:/etc/hosts: already observed by files.etc"}, WarningCount: 1},
			},
		},
		{
			name: "no sources give an empty snapshot",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blobs := &MemoryBlobs{}
			r := &Runner{Sources: tt.sources, Redactor: newRedactor(t), Blobs: blobs, Log: zaptest.NewLogger(t)}
			host := baseline.Host{Name: "web-01", Labels: map[string]string{"role": "web"}}
			snap, err := r.Snapshot(context.Background(), host)
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			if err := snap.Validate(); err != nil {
				t.Errorf("snapshot does not validate: %v", err)
			}
			if snap.Format != baseline.FormatVersion || snap.TakenAt.IsZero() {
				t.Errorf("format %d, taken at %v; want format %d and a time", snap.Format, snap.TakenAt, baseline.FormatVersion)
			}
			if diff := cmp.Diff(host, snap.Host); diff != "" {
				t.Errorf("host (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantKeys, keys(snap)); diff != "" {
				t.Errorf("item keys (-want +got):\n%s", diff)
			}
			for _, st := range snap.Sources {
				if st.Took < 0 {
					t.Errorf("source %s took %v", st.Name, st.Took)
				}
			}
			if diff := cmp.Diff(tt.want, snap.Sources, cmpopts.IgnoreFields(baseline.SourceStatus{}, "Took"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("source statuses (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunnerDuplicateKeepsFirst checks that the item kept for a key seen
// twice is the first source's, content and all.
func TestRunnerDuplicateKeepsFirst(t *testing.T) {
	r := &Runner{
		Sources: []Source{
			&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/hosts", "first\n")}},
			&fakeSource{name: "files.extra", kind: baseline.KindFile, items: []emitted{fileItem("/etc/hosts", "second\n")}},
		},
		Redactor: newRedactor(t), Blobs: &MemoryBlobs{}, Log: zaptest.NewLogger(t),
	}
	snap, err := r.Snapshot(context.Background(), baseline.Host{Name: "web-01"})
	if err != nil {
		t.Fatal(err)
	}
	it := snap.Lookup("file:/etc/hosts")
	if it == nil {
		t.Fatal("file:/etc/hosts missing")
	}
	if it.Digest != baseline.Sum([]byte("first\n")) || it.Content != baseline.Sum([]byte("first\n")) {
		t.Errorf("kept the second source's file:/etc/hosts, want the first's")
	}
}

// TestRunnerContent checks what becomes of the content sources capture:
// redacted before it is stored, stored by the digest of the redacted text,
// and never stored raw.
func TestRunnerContent(t *testing.T) {
	const (
		secret   = "hunter2"
		raw      = "user = app\npassword = " + secret + "\nport = 5432\n"
		redacted = "user = app\npassword = [REDACTED]\nport = 5432\n"
		plain    = "Welcome to web-01\n"
	)
	// An item whose content the source remembers from an earlier run: it
	// passes Content and Redacted on and no content.
	remembered := fileItem("/etc/cached.conf", "")
	remembered.item.Digest = baseline.Sum([]byte("password = old\n"))
	remembered.item.Content = baseline.Sum([]byte("password = [REDACTED]\n"))
	remembered.item.Redacted = true
	// A source that sets Content wrongly while passing content: the runner
	// decides Content and Redacted.
	stale := fileItem("/etc/motd", plain)
	stale.item.Content = baseline.Sum([]byte("stale"))
	stale.item.Redacted = true

	items := []emitted{fileItem("/etc/app.conf", raw), stale, remembered, pkgItem("openssl", "3.0.15")}

	type want struct {
		content  string // the stored text; "" means no content
		redacted bool
	}
	tests := []struct {
		name     string
		redactor Redactor
		blobs    bool
		want     map[string]want
	}{
		{
			name:     "redacted and stored",
			redactor: newRedactor(t),
			blobs:    true,
			want: map[string]want{
				"file:/etc/app.conf":    {content: redacted, redacted: true},
				"file:/etc/motd":        {content: plain},
				"file:/etc/cached.conf": {content: "password = [REDACTED]\n", redacted: true},
				"package:openssl":       {},
			},
		},
		{
			name:     "no blob store keeps no content",
			redactor: newRedactor(t),
			want: map[string]want{
				"file:/etc/app.conf":    {},
				"file:/etc/motd":        {},
				"file:/etc/cached.conf": {content: "password = [REDACTED]\n", redacted: true},
				"package:openssl":       {},
			},
		},
		{
			name:  "no redactor stores no content",
			blobs: true,
			want: map[string]want{
				"file:/etc/app.conf":    {},
				"file:/etc/motd":        {},
				"file:/etc/cached.conf": {content: "password = [REDACTED]\n", redacted: true},
				"package:openssl":       {},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := &MemoryBlobs{}
			src := &fakeSource{name: "files.etc", kind: baseline.KindFile, items: items}
			r := &Runner{Sources: []Source{src}, Redactor: tt.redactor, Log: zaptest.NewLogger(t)}
			if tt.blobs {
				r.Blobs = mem
			}
			snap, err := r.Snapshot(context.Background(), baseline.Host{Name: "web-01"})
			if err != nil {
				t.Fatal(err)
			}
			for key, w := range tt.want {
				it := snap.Lookup(key)
				if it == nil {
					t.Errorf("%s missing", key)
					continue
				}
				if it.Redacted != w.redacted {
					t.Errorf("%s: Redacted = %v, want %v", key, it.Redacted, w.redacted)
				}
				if w.content == "" {
					if !it.Content.IsZero() {
						t.Errorf("%s: Content = %s, want none", key, it.Content.Short())
					}
					continue
				}
				if want := baseline.Sum([]byte(w.content)); it.Content != want {
					t.Errorf("%s: Content = %s, want %s, the digest of %q", key, it.Content.Short(), want.Short(), w.content)
				}
			}
			// The digest that detects change is the raw content's, untouched.
			if it := snap.Lookup("file:/etc/app.conf"); it.Digest != baseline.Sum([]byte(raw)) {
				t.Errorf("file:/etc/app.conf: Digest changed from the raw content's")
			}
			// What the source was told it recorded is what the snapshot holds.
			for _, got := range src.returned {
				if kept := snap.Lookup(got.Key); kept == nil || !kept.Equal(&got) {
					t.Errorf("%s: emit returned %+v, snapshot holds %+v", got.Key, got, kept)
				}
			}
			// Every stored blob is redacted text, and the one for app.conf
			// reads back as such.
			for _, d := range mem.Digests() {
				b, err := mem.Blob(d)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secret) {
					t.Errorf("blob %s holds the raw secret: %q", d.Short(), b)
				}
			}
			if tt.blobs && tt.redactor != nil {
				b, err := mem.Blob(snap.Lookup("file:/etc/app.conf").Content)
				if err != nil {
					t.Fatalf("content of file:/etc/app.conf not stored: %v", err)
				}
				if diff := cmp.Diff(redacted, string(b)); diff != "" {
					t.Errorf("stored content (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestRunnerErrors checks when Snapshot fails as a whole.
func TestRunnerErrors(t *testing.T) {
	diskFull := errors.New("write blob: no space left on device")
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	tests := []struct {
		name     string
		ctx      context.Context
		sources  []Source
		blobs    BlobStore
		wantIs   error
		wantText []string
	}{
		{
			name: "content cannot be stored",
			ctx:  context.Background(),
			sources: []Source{
				&fakeSource{name: "packages", kind: baseline.KindPackage, items: []emitted{pkgItem("openssl", "3.0.15")}},
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/app.conf", "a = 1\n")}},
			},
			blobs:    failingBlobs{err: diskFull},
			wantIs:   diskFull,
			wantText: []string{"files.etc", "file:/etc/app.conf", "no space left on device"},
		},
		{
			name: "context cancelled, source honours it",
			ctx:  cancelled(),
			sources: []Source{
				ctxSource{},
			},
			blobs:  &MemoryBlobs{},
			wantIs: context.Canceled,
		},
		{
			name: "context cancelled, source ignores it",
			ctx:  cancelled(),
			sources: []Source{
				&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/motd", "hello\n")}},
			},
			blobs:  &MemoryBlobs{},
			wantIs: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{Sources: tt.sources, Redactor: newRedactor(t), Blobs: tt.blobs, Log: zaptest.NewLogger(t)}
			snap, err := r.Snapshot(tt.ctx, baseline.Host{Name: "web-01"})
			if err == nil {
				t.Fatalf("Snapshot succeeded with %d items, want an error", len(snap.Items))
			}
			if snap != nil {
				t.Errorf("Snapshot returned a snapshot with its error")
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %q", err, tt.wantIs)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

// TestRunnerNilLogger checks that a Runner without a logger still runs.
func TestRunnerNilLogger(t *testing.T) {
	r := &Runner{Sources: []Source{&fakeSource{name: "packages", kind: baseline.KindPackage, items: []emitted{pkgItem("openssl", "3.0.15")}, err: errors.New("boom")}}}
	snap, err := r.Snapshot(context.Background(), baseline.Host{Name: "web-01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Sources) != 1 || snap.Sources[0].Status != baseline.StatusError {
		t.Errorf("sources = %+v, want one failed", snap.Sources)
	}
}

// TestMemoryBlobs checks the in-memory store keeps one copy per content and
// does not alias the caller's buffer.
func TestMemoryBlobs(t *testing.T) {
	m := &MemoryBlobs{}
	buf := []byte("hello\n")
	d1, err := m.PutBlob(buf)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := m.PutBlob([]byte("hello\n"))
	copy(buf, "HELLO\n")
	if d1 != d2 || d1 != baseline.Sum([]byte("hello\n")) {
		t.Errorf("digests %s, %s; want both the content's", d1.Short(), d2.Short())
	}
	if got := m.Digests(); len(got) != 1 {
		t.Errorf("holds %d blobs, want 1", len(got))
	}
	if b, err := m.Blob(d1); err != nil || string(b) != "hello\n" {
		t.Errorf("Blob = %q, %v; want %q", b, err, "hello\n")
	}
	if _, err := m.Blob(baseline.Sum([]byte("absent"))); err == nil {
		t.Error("Blob of absent content succeeded")
	}
}
