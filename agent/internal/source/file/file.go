package file

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/agent/internal/glob"
	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// Options configures a file source.
type Options struct {
	// Paths are absolute files, directories (walked recursively) or
	// anchored patterns with "**".
	Paths []string
	// Exclude are patterns of paths to leave out; an excluded directory is
	// not descended into.
	Exclude []string
	// Content keeps the content of text files up to MaxContentSize.
	Content bool
	// MaxContentSize caps the size of a file whose content is kept.
	MaxContentSize int64
	// DigestOnly are patterns of files whose content is never kept.
	DigestOnly []string
	// Workers is how many files are read at once; 0 means one per core.
	Workers int
	// Cache, when set, lets unchanged files be skipped; see Cache.
	Cache *Cache
	// Full reads every file even when the cache says it is unchanged (the
	// cache is still updated).
	Full bool
	// Targets, when set, are observed instead of the whole of Paths: a
	// targeted rescan of what changed. Each is observed only where Paths
	// and Exclude would have observed it.
	Targets []Target
	// Limiter, when set, bounds how fast file content is read.
	Limiter Limiter
}

// Target is one path of a targeted rescan.
type Target struct {
	// Path is absolute and clean.
	Path string
	// Recursive observes everything below a directory too.
	Recursive bool
}

// Limiter paces reads: WaitN returns once n more bytes may be read.
type Limiter interface {
	WaitN(ctx context.Context, n int) error
}

// Source observes files; see the package comment.
type Source struct {
	name       string
	opt        Options
	roots      []string
	patterns   []*glob.Pattern // per root; nil for a literal path
	exclude    glob.Set
	digestOnly glob.Set

	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

// New checks the options and returns a source named name.
func New(name string, opt Options) (*Source, error) {
	s := &Source{name: name, opt: opt, users: map[uint32]string{}, groups: map[uint32]string{}}
	if len(opt.Paths) == 0 {
		return nil, fmt.Errorf("files %s: no paths", name)
	}
	for _, p := range opt.Paths {
		if !filepath.IsAbs(p) && !(len(p) > 0 && p[0] == '/') {
			return nil, fmt.Errorf("files %s: path %q is not absolute", name, p)
		}
		if glob.HasMeta(p) {
			pat, err := glob.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("files %s: %w", name, err)
			}
			s.roots = append(s.roots, glob.Prefix(p))
			s.patterns = append(s.patterns, pat)
			continue
		}
		s.roots = append(s.roots, filepath.Clean(p))
		s.patterns = append(s.patterns, nil)
	}
	var err error
	if s.exclude, err = glob.CompileSet(opt.Exclude); err != nil {
		return nil, fmt.Errorf("files %s: exclude: %w", name, err)
	}
	if s.digestOnly, err = glob.CompileSet(opt.DigestOnly); err != nil {
		return nil, fmt.Errorf("files %s: digest_only: %w", name, err)
	}
	if s.opt.Workers <= 0 {
		s.opt.Workers = runtime.GOMAXPROCS(0)
	}
	return s, nil
}

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Kind implements source.Source.
func (s *Source) Kind() string { return baseline.KindFile }

// job is one path for a worker to observe.
type job struct {
	path  string
	dir   *dirHandle // the open parent directory, nil for a root
	name  string     // the base name within dir
	isReg bool       // listed as a regular file by its directory
}

// Collect walks the roots and emits one item per path; see source.Source.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	// Jobs go to the workers in batches: one channel operation and one
	// wake-up per batch instead of per file.
	jobs := make(chan []job, 64)
	var wg sync.WaitGroup
	for range s.opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{buf: make([]byte, 64<<10), hash: sha256.New()}
			for batch := range jobs {
				for _, j := range batch {
					if ctx.Err() == nil {
						s.visit(j, emit, w)
					}
					j.dir.release()
				}
			}
		}()
	}
	// With several roots one may lie inside another: remember what was sent.
	// With one, every path comes once and the map is not needed.
	var seen map[string]bool
	if len(s.roots) > 1 {
		seen = map[string]bool{}
	}
	if len(s.opt.Targets) > 0 {
		seen = map[string]bool{}
		for _, t := range s.opt.Targets {
			if ctx.Err() != nil {
				break
			}
			i := s.rootOf(t.Path)
			if i < 0 {
				continue
			}
			if t.Recursive {
				s.walk(ctx, t.Path, s.patterns[i], seen, jobs, emit)
			} else {
				s.walkOne(t.Path, s.patterns[i], seen, jobs)
			}
		}
		close(jobs)
		wg.Wait()
		return ctx.Err()
	}
	walked := map[string]string{} // real path of each root walked → its path
	for i, root := range s.roots {
		if ctx.Err() != nil {
			break
		}
		// Two roots that are one directory (/lib is a link to /usr/lib on
		// merged-/usr systems) are walked once, under the first name.
		if real, err := filepath.EvalSymlinks(root); err == nil {
			if first, ok := walked[real]; ok && first != root {
				continue
			}
			walked[real] = root
		}
		s.walk(ctx, root, s.patterns[i], seen, jobs, emit)
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}

// rootOf returns the index of the root path is under (or is), when
// neither path nor a directory between it and the root is excluded; -1
// otherwise.
func (s *Source) rootOf(path string) int {
	for i, root := range s.roots {
		if path != root && !strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/") {
			continue
		}
		for p := path; ; p = filepath.Dir(p) {
			if s.exclude.Match(p) {
				return -1
			}
			if p == root || p == "/" || p == "." {
				break
			}
		}
		return i
	}
	return -1
}

// walkOne sends path alone to jobs, when it matches pat.
func (s *Source) walkOne(path string, pat *glob.Pattern, seen map[string]bool, jobs chan<- []job) {
	if (pat != nil && !pat.Match(path)) || seen[path] {
		return
	}
	if _, err := os.Lstat(path); err != nil {
		return // gone: the item is absent
	}
	seen[path] = true
	jobs <- []job{{path: path}}
}

// walk sends root and everything below it to jobs, depth first.
func (s *Source) walk(ctx context.Context, root string, pat *glob.Pattern, seen map[string]bool, jobs chan<- []job, emit source.Emitter) {
	const batchSize = 128
	batch := make([]job, 0, batchSize)
	flush := func() {
		if len(batch) > 0 {
			jobs <- batch
			batch = make([]job, 0, batchSize)
		}
	}
	defer flush()
	fi, err := os.Lstat(root)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			emit.Warn(fmt.Errorf("%s: %w", root, err))
		}
		return
	}
	var stack []string
	send := func(dir *dirHandle, p, name string, isDir, isReg bool) {
		if s.exclude.Match(p) {
			return
		}
		if pat == nil || pat.Match(p) {
			if seen == nil || !seen[p] {
				if seen != nil {
					seen[p] = true
				}
				dir.acquire()
				batch = append(batch, job{path: p, dir: dir, name: name, isReg: isReg})
				if len(batch) == batchSize {
					flush()
				}
			}
		}
		if isDir {
			stack = append(stack, p)
		}
	}
	send(nil, root, "", fi.IsDir(), false)
	buf := make([]byte, 32<<10)
	for len(stack) > 0 && ctx.Err() == nil {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		// The workers stat and open the entries relative to the open
		// directory: the kernel resolves one name, not the whole path.
		h, entries, err := listDir(dir, buf)
		if err != nil {
			emit.Warn(fmt.Errorf("%s: %w", dir, err))
		}
		for _, e := range entries {
			send(h, join(dir, e.name), e.name, e.isDir, e.isReg)
		}
		h.release()
	}
}

// dirEntry is one name in a directory and what the directory says it is:
// a directory, a regular file, or (both false) something else or unknown.
type dirEntry struct {
	name  string
	isDir bool
	isReg bool
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// worker is one hashing goroutine's reusable state.
type worker struct {
	buf  []byte // read buffer for hashing
	data []byte // whole-file buffer for content that is kept
	hash hash.Hash
}

// visit observes one path and emits its item.
func (s *Source) visit(j job, emit source.Emitter, w *worker) {
	path := j.path
	it := baseline.Item{Key: baseline.Key(baseline.KindFile, path), Source: s.name}
	cache := s.opt.Cache
	var ph uint64
	if cache != nil {
		ph = pathHash(path)
	}
	// A regular file that will be read anyway is opened first and stat'ed
	// through its descriptor; one whose cache entry may spare the read is
	// stat'ed by name, and opened only if it changed.
	var (
		f   io.ReadCloser
		st  statInfo
		err = errors.ErrUnsupported
	)
	var old *slot // the loaded cache entry that may spare the read
	if cache != nil && !s.opt.Full {
		old = cache.loadedEntry(ph)
	}
	if j.isReg && old == nil {
		f, st, err = openStatAt(j.dir, j.name, path)
	}
	if err != nil {
		st, err = lstatAt(j.dir, j.name, path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return // gone since the directory was read
		}
		it.Error = errText(err)
		emit.Warn(fmt.Errorf("%s: %w", path, err))
		emit.Item(it, nil)
		return
	}
	if f != nil {
		defer f.Close()
	}
	mode := st.mode
	// Attributes are appended in name order, so no sort is needed:
	// gid, group, mode, mtime, owner, rdev, size, target, type, uid.
	attrs := make(baseline.Attrs, 0, 9)
	var owner, group string
	if st.hasOwner {
		owner, group = s.userName(st.uid), s.groupName(st.gid)
		attrs = append(attrs, baseline.Attr{Name: baseline.AttrGID, Value: strconv.FormatUint(uint64(st.gid), 10)})
		if group != "" {
			attrs = append(attrs, baseline.Attr{Name: baseline.AttrGroup, Value: group})
		}
	}
	if mode&fs.ModeSymlink == 0 {
		attrs = append(attrs, baseline.Attr{Name: baseline.AttrMode, Value: permString(mode)})
	}
	attrs = append(attrs, baseline.Attr{Name: baseline.AttrMtime, Value: st.modTime().UTC().Format(time.RFC3339Nano)})
	if owner != "" {
		attrs = append(attrs, baseline.Attr{Name: baseline.AttrOwner, Value: owner})
	}
	switch {
	case mode.IsRegular():
		attrs = append(attrs, baseline.Attr{Name: baseline.AttrSize, Value: strconv.FormatInt(st.size, 10)})
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			it.Error = errText(err)
			emit.Warn(fmt.Errorf("%s: %w", path, err))
		} else {
			attrs = append(attrs, baseline.Attr{Name: baseline.AttrTarget, Value: target})
		}
	case mode&fs.ModeDevice != 0 && st.hasDevNums:
		major, minor := devMajorMinor(st.rdev)
		attrs = append(attrs, baseline.Attr{Name: "rdev", Value: fmt.Sprintf("%d:%d", major, minor)})
	}
	attrs = append(attrs, baseline.Attr{Name: baseline.AttrType, Value: fileType(mode)})
	if st.hasOwner {
		attrs = append(attrs, baseline.Attr{Name: baseline.AttrUID, Value: strconv.FormatUint(uint64(st.uid), 10)})
	}
	it.Attrs = attrs
	if !mode.IsRegular() {
		// Replaced since the directory was listed: an open descriptor is
		// closed unread.
		emit.Item(it, nil)
		return
	}

	entry := Entry{Size: st.size, Mtime: st.mtime, Ctime: st.ctime, Ino: st.ino, Dev: st.dev}
	if old != nil {
		if e, ok := cache.reuse(old, entry); ok {
			it.Digest, it.Content, it.Redacted = e.Digest, e.Content, e.Redacted
			emit.Item(it, nil)
			return
		}
	}
	s.pace(st.size)
	if f == nil {
		if f, err = openAt(j.dir, j.name, path); err == nil {
			defer f.Close()
		}
	}
	var digest baseline.Digest
	var content []byte
	if err == nil {
		digest, content, err = s.read(f, path, st.size, w)
	}
	if err != nil {
		it.Error = errText(err)
		emit.Warn(fmt.Errorf("%s: %w", path, err))
		emit.Item(it, nil)
		return
	}
	it.Digest = digest
	rec := emit.Item(it, content)
	if cache != nil {
		entry.Digest, entry.Content, entry.Redacted = rec.Digest, rec.Content, rec.Redacted
		cache.store(ph, entry)
	}
}

// read hashes the open regular file f and returns its content when it is
// kept: text (valid UTF-8 without NUL bytes), not over the size cap, not
// digest-only. size is the size stat saw; a file that changes while it is
// read is read to its end all the same. The content is in the worker's
// buffer, valid until the worker reads the next file (emitters copy what
// they keep).
func (s *Source) read(f io.Reader, path string, size int64, w *worker) (baseline.Digest, []byte, error) {
	if s.opt.Content && size <= s.opt.MaxContentSize && !s.digestOnly.Match(path) {
		// One read of size+1 bytes usually gets the whole file and shows
		// its end.
		var data []byte
		switch {
		case int64(cap(w.data)) >= size+1:
			data = w.data[:size+1]
		case size < keepBufferSize:
			w.data = make([]byte, size+1, max(size+1, 64<<10))
			data = w.data
		default:
			data = make([]byte, size+1) // too large to keep around
		}
		n, err := io.ReadFull(f, data)
		switch {
		case err == io.ErrUnexpectedEOF || err == io.EOF:
			data = data[:n]
			d := baseline.Sum(data)
			if isText(data) {
				return d, data, nil
			}
			return d, nil, nil
		case err != nil:
			return baseline.Digest{}, nil, err
		}
		// It grew while being read: hash it all, keep nothing.
		w.hash.Reset()
		w.hash.Write(data)
		return hashRest(w.hash, f, w.buf, -1)
	}
	w.hash.Reset()
	return hashRest(w.hash, f, w.buf, size)
}

// keepBufferSize is the largest content buffer a worker keeps for the next
// file.
const keepBufferSize = 256 << 10

// paceChunk is the most a single wait of the limiter asks for; a limiter's
// burst must be at least this.
const paceChunk = 1 << 20

// pace waits until the limiter allows reading size bytes.
func (s *Source) pace(size int64) {
	if s.opt.Limiter == nil {
		return
	}
	for size > 0 {
		n := min(size, paceChunk)
		_ = s.opt.Limiter.WaitN(context.Background(), int(n))
		size -= n
	}
}

// hashRest hashes the rest of f with the worker's buffer. When the reads
// have given exactly size bytes and the last one was short, the file is at
// its end and no further read is made (size -1: read to EOF). io.CopyBuffer
// is not used: an *os.File would take its WriterTo path, which allocates
// 32 KiB for every file.
func hashRest(h hash.Hash, f io.Reader, buf []byte, size int64) (baseline.Digest, []byte, error) {
	var total int64
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return baseline.Digest{}, nil, err
		}
		if total == size && n < len(buf) {
			break
		}
	}
	var d baseline.Digest
	h.Sum(d[:0])
	return d, nil, nil
}

// isText reports whether content is shown and diffed as text.
func isText(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return false
		}
	}
	return utf8.Valid(b)
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "char"
	case m&fs.ModeDevice != 0:
		return "block"
	}
	return "unknown"
}

// permStrings holds the formatted permission values, shared by every item.
var permStrings = func() (t [0o10000]string) {
	for v := range t {
		t[v] = fmt.Sprintf("%04o", v)
	}
	return t
}()

// permString formats the permission bits with setuid, setgid and sticky as
// four octal digits, like stat -c %a with a leading digit.
func permString(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return permStrings[v]
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func (s *Source) userName(uid uint32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = u.Username
	}
	s.users[uid] = n
	return n
}

func (s *Source) groupName(gid uint32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.groups[gid]; ok {
		return n
	}
	n := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		n = g.Name
	}
	s.groups[gid] = n
	return n
}
