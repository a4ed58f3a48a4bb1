package reporter

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/name, or rewrites the file with
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path,
			cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")))
	}
}

func newRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// goldenCases are the outputs kept as golden files, each rendered from the
// fixtures.
var goldenCases = []struct {
	file   string
	render func(r *Renderer, w io.Writer) error
}{
	{"overview.html", func(r *Renderer, w io.Writer) error { return r.Overview(w, fixOverview(4)) }},
	{"inbox.html", func(r *Renderer, w io.Writer) error { return r.Inbox(w, fixInbox(6)) }},
	{"drift-unified.html", func(r *Renderer, w io.Writer) error { return r.Drift(w, fixDriftPage(ViewUnified)) }},
	{"drift-split.html", func(r *Renderer, w io.Writer) error { return r.Drift(w, fixDriftPage(ViewSplit)) }},
	{"ticket.html", func(r *Renderer, w io.Writer) error { return r.Ticket(w, fixTicket()) }},
	{"doc-host.html", func(r *Renderer, w io.Writer) error { return r.HostDocumentationHTML(w, fixHostDoc()) }},
	{"doc-host.md", func(r *Renderer, w io.Writer) error { return WriteHostMarkdown(w, fixHostDoc()) }},
	{"digest.html", func(r *Renderer, w io.Writer) error { return r.DigestHTML(w, fixDigest()) }},
	{"digest.txt", func(r *Renderer, w io.Writer) error { return r.DigestText(w, fixDigest()) }},
	{"alert.html", func(r *Renderer, w io.Writer) error { return r.AlertHTML(w, fixAlert()) }},
	{"alert.txt", func(r *Renderer, w io.Writer) error { return r.AlertText(w, fixAlert()) }},
	{"chart-drift.svg", func(r *Renderer, w io.Writer) error {
		_, err := io.WriteString(w, string(fixMetrics().DriftChart().SVG())+"\n")
		return err
	}},
	{"chart-success.svg", func(r *Renderer, w io.Writer) error {
		_, err := io.WriteString(w, string(fixMetrics().SuccessChart().SVG())+"\n")
		return err
	}},
	{"changelog.csv", func(r *Renderer, w io.Writer) error { return WriteChangeLogCSV(w, fixChangeLog(), berlin) }},
}

func TestGolden(t *testing.T) {
	r := newRenderer(t)
	for _, tc := range goldenCases {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.render(r, &buf); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.file, buf.Bytes())
		})
	}
}
