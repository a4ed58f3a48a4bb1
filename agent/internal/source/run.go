package source

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/baseline"
)

// maxWarnings is how many warnings a source's status keeps in full.
const maxWarnings = 20

// Redactor masks secrets in content.
type Redactor interface {
	Redact(content []byte) ([]byte, bool)
}

// BlobStore keeps redacted content by digest.
type BlobStore interface {
	// PutBlob stores content and returns its digest. Storing the same
	// content twice is cheap and keeps one copy.
	PutBlob(content []byte) (baseline.Digest, error)
}

// Runner runs sources into a snapshot: it times each, records its status,
// redacts the content they capture and stores it.
type Runner struct {
	// Sources are run in order.
	Sources []Source
	// Redactor masks secrets before content is stored; nil stores none.
	Redactor Redactor
	// Blobs stores the redacted content; nil keeps no content.
	Blobs BlobStore
	// Log receives one line per source run.
	Log *zap.Logger
	// SizeHint is the number of items expected, to size memory once.
	SizeHint int
}

// sink receives the items of a run.
type sink interface {
	// add takes one item of source src; it returns the name of the source
	// that already observed the key, if one did.
	add(it baseline.Item, src int) (dup string)
	// drop forgets every item of source src (it failed).
	drop(src int)
	// count returns how many items source src contributed.
	count(src int) int
}

// Snapshot runs every source and returns the snapshot of host. A failing
// source is recorded in the snapshot, not returned; an error means the
// snapshot could not be made at all (content could not be stored, or ctx
// ended).
func (r *Runner) Snapshot(ctx context.Context, host baseline.Host) (*baseline.Snapshot, error) {
	e, err := r.Encoded(ctx, host)
	if err != nil {
		return nil, err
	}
	return e.Snapshot()
}

// Encoded is Snapshot that keeps the snapshot in its canonical encoding: a
// snapshot of 100,000 files costs about the size of its encoding, in memory
// the garbage collector need not scan.
func (r *Runner) Encoded(ctx context.Context, host baseline.Host) (*baseline.Encoded, error) {
	takenAt := time.Now().UTC()
	c := &collectSink{b: baseline.NewBuilder(r.SizeHint)}
	statuses, err := r.run(ctx, c)
	if err != nil {
		return nil, err
	}
	c.b.Dedupe(func(key string, tag, kept int) {
		st := &statuses[tag]
		st.WarningCount++
		st.Items--
		if len(st.Warnings) < maxWarnings {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s: already observed by %s", baseline.EscapeBytes(key), statuses[kept].Name))
		}
		if st.Status == baseline.StatusOK {
			st.Status = baseline.StatusPartial
		}
	})
	sort.Slice(statuses, func(i, j int) bool { return statuses[i].Name < statuses[j].Name })
	e := c.b.Finish(host, takenAt)
	e.Sources = statuses
	return e, nil
}

// run runs every source into s and returns their statuses.
func (r *Runner) run(ctx context.Context, s sink) ([]baseline.SourceStatus, error) {
	log := r.Log
	if log == nil {
		log = zap.NewNop()
	}
	var statuses []baseline.SourceStatus
	for i, src := range r.Sources {
		em := &emitter{r: r, sink: s, src: i}
		start := time.Now()
		err := src.Collect(ctx, em)
		took := time.Since(start)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("snapshot: %w", ctx.Err())
		}
		if em.storeErr != nil {
			return nil, fmt.Errorf("snapshot: source %s: %w", src.Name(), em.storeErr)
		}
		st := baseline.SourceStatus{Name: src.Name(), Kind: src.Kind(), Status: baseline.StatusOK, Took: took}
		if err != nil {
			st.Status = baseline.StatusError
			st.Error = err.Error()
			s.drop(i)
		}
		st.Warnings, st.WarningCount = em.warnings, em.warnCount
		st.Items = s.count(i)
		if st.Status == baseline.StatusOK && st.WarningCount > 0 {
			// Warnings include items dropped as already observed.
			st.Status = baseline.StatusPartial
		}
		statuses = append(statuses, st)
		fields := []zap.Field{zap.String("source", src.Name()), zap.String("status", st.Status),
			zap.Int("items", st.Items), zap.Duration("took", took)}
		switch st.Status {
		case baseline.StatusError:
			log.Warn("source failed", append(fields, zap.String("error", st.Error))...)
		case baseline.StatusPartial:
			log.Warn("source ran with problems", append(fields, zap.Int("warnings", st.WarningCount), zap.Strings("first", first(st.Warnings, 3)))...)
		default:
			log.Debug("source ran", fields...)
		}
	}
	return statuses, nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// collectSink keeps every item, encoded, for a full snapshot.
type collectSink struct {
	mu     sync.Mutex
	b      *baseline.Builder
	counts []int
	pool   sync.Pool // encoding buffers
}

func (c *collectSink) add(it baseline.Item, src int) string {
	bp, _ := c.pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	line := it.AppendCanonical((*bp)[:0])
	c.mu.Lock()
	for len(c.counts) <= src {
		c.counts = append(c.counts, 0)
	}
	c.b.AddEncoded(&it, line, src)
	c.counts[src]++
	c.mu.Unlock()
	*bp = line
	c.pool.Put(bp)
	return ""
}

// drop forgets a failed source's items. Sources run one after another, so
// they are the last ones added.
func (c *collectSink) drop(src int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if src < len(c.counts) {
		c.b.Truncate(c.b.Len() - c.counts[src])
		c.counts[src] = 0
	}
}

func (c *collectSink) count(src int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if src < len(c.counts) {
		return c.counts[src]
	}
	return 0
}

// emitter passes one source's items to the sink, storing their content,
// and keeps its warnings.
type emitter struct {
	r         *Runner
	sink      sink
	src       int
	mu        sync.Mutex
	warnings  []string
	warnCount int
	storeErr  error
}

func (e *emitter) Item(it baseline.Item, content []byte) baseline.Item {
	if content != nil {
		it.Content, it.Redacted = baseline.Digest{}, false
		// Without a redactor no content is stored: none leaves unredacted.
		if e.r.Blobs != nil && e.r.Redactor != nil {
			red, redacted := e.r.Redactor.Redact(content)
			d, err := e.r.Blobs.PutBlob(red)
			if err != nil {
				e.mu.Lock()
				if e.storeErr == nil {
					e.storeErr = fmt.Errorf("store content of %s: %w", baseline.EscapeBytes(it.Key), err)
				}
				e.mu.Unlock()
			} else {
				it.Content, it.Redacted = d, redacted
			}
		}
	}
	if dup := e.sink.add(it, e.src); dup != "" {
		e.Warn(fmt.Errorf("%s: already observed by %s", baseline.EscapeBytes(it.Key), dup))
	}
	return it
}

func (e *emitter) Warn(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.warnCount++
	if len(e.warnings) < maxWarnings {
		e.warnings = append(e.warnings, baseline.EscapeBytes(err.Error()))
	}
}

// MemoryBlobs is a BlobStore in memory, for snapshots that are not kept and
// for tests. It is safe for concurrent use.
type MemoryBlobs struct {
	mu    sync.Mutex
	blobs map[baseline.Digest][]byte
}

// PutBlob implements BlobStore.
func (m *MemoryBlobs) PutBlob(content []byte) (baseline.Digest, error) {
	d := baseline.Sum(content)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[baseline.Digest][]byte{}
	}
	if _, ok := m.blobs[d]; !ok {
		m.blobs[d] = append([]byte(nil), content...)
	}
	return d, nil
}

// Blob implements baseline.BlobSource.
func (m *MemoryBlobs) Blob(d baseline.Digest) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", d.Short())
	}
	return b, nil
}

// Digests returns the digests held, sorted.
func (m *MemoryBlobs) Digests() []baseline.Digest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]baseline.Digest, 0, len(m.blobs))
	for d := range m.blobs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
