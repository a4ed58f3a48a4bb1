package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// sample is a chain of five entries of one tenant, hashed.
func sample() []Entry {
	es := []Entry{
		{Actor: "alice@example.com", Action: ActionTicketCreate, Subject: "CHG-1",
			Detail: []byte(`{"title": "Open port 443", "state": "draft"}`)},
		{Actor: "bob@example.com", Action: ActionTicketApprove, Subject: "CHG-1",
			Detail: []byte(`{"from":"review","to":"approved","comment":"ok <for> tonight & tomorrow"}`)},
		{Actor: "collector", Action: ActionBaselineAdd, Subject: "host-web1"},
		{Actor: "carol@example.com", Action: ActionDriftAccept, Subject: "drift-17",
			Detail: []byte("{\n  \"reason\": \"emergency fix\",\n  \"items\": [\"drift-17\"]\n}")},
		{Actor: "alice@example.com", Action: ActionPolicyUpdate, Subject: "policy", Detail: []byte(`{"version":2}`)},
	}
	return chain("acme", es)
}

// chain numbers and hashes entries as the store does.
func chain(tenant string, es []Entry) []Entry {
	prev := ""
	for i := range es {
		es[i].TenantID = tenant
		es[i].Seq = uint64(i + 1)
		es[i].At = t0.Add(time.Duration(i) * time.Minute)
		es[i].PrevHash = prev
		es[i].Hash = Hash(prev, es[i])
		prev = es[i].Hash
	}
	return es
}

// seq yields es as a chain read without errors.
func seq(es []Entry) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// TestHashEncoding computes one entry's hash from the encoding as the
// package documentation states it, written out here independently.
func TestHashEncoding(t *testing.T) {
	e := sample()[3]
	var b bytes.Buffer
	b.WriteString("driftwatch-audit-v1\n")
	binary.Write(&b, binary.BigEndian, uint64(4))
	binary.Write(&b, binary.BigEndian, e.At.UnixMicro())
	for _, f := range []string{"acme", "carol@example.com", "drift.accept", "drift-17",
		`{"reason":"emergency fix","items":["drift-17"]}`, sample()[2].Hash} {
		binary.Write(&b, binary.BigEndian, uint32(len(f)))
		b.WriteString(f)
	}
	sum := sha256.Sum256(b.Bytes())
	if want := hex.EncodeToString(sum[:]); e.Hash != want {
		t.Errorf("Hash = %s, want %s (the documented encoding)", e.Hash, want)
	}
}

// TestHashGolden pins the hashes of the sample chain: a change of the
// encoding would make every stored chain fail verification.
func TestHashGolden(t *testing.T) {
	var b strings.Builder
	for _, e := range sample() {
		fmt.Fprintf(&b, "%d %s\n", e.Seq, e.Hash)
	}
	golden(t, "hashes.golden", []byte(b.String()))
}

func TestHashCoversEveryField(t *testing.T) {
	base := sample()[1]
	h := Hash(base.PrevHash, base)
	for _, tt := range []struct {
		name   string
		change func(e *Entry)
	}{
		{"tenant", func(e *Entry) { e.TenantID = "acme2" }},
		{"seq", func(e *Entry) { e.Seq++ }},
		{"at", func(e *Entry) { e.At = e.At.Add(time.Microsecond) }},
		{"actor", func(e *Entry) { e.Actor = "mallory@example.com" }},
		{"action", func(e *Entry) { e.Action = ActionTicketUpdate }},
		{"subject", func(e *Entry) { e.Subject = "CHG-2" }},
		{"detail", func(e *Entry) { e.Detail = []byte(`{"from":"review","to":"rejected"}`) }},
		{"detail removed", func(e *Entry) { e.Detail = nil }},
		{"prev", func(e *Entry) { e.PrevHash = strings.Repeat("0", 64) }},
		// Length prefixes: moving a byte from one field to the next is a
		// different entry.
		{"field boundary", func(e *Entry) { e.Actor, e.Action = "bob@example.comt", "icket.approve" }},
	} {
		e := base
		tt.change(&e)
		if got := Hash(e.PrevHash, e); got == h {
			t.Errorf("changing the %s leaves the hash %s", tt.name, h)
		}
	}
	same := base
	same.Detail = []byte("{ \"from\" : \"review\",\n\t\"to\":\"approved\", \"comment\":\"ok <for> tonight & tomorrow\" }")
	same.At = base.At.In(time.FixedZone("CET", 3600))
	same.Hash = "ignored"
	if got := Hash(same.PrevHash, same); got != h {
		t.Errorf("white space in the detail, the time zone or the Hash field change the hash: %s, want %s", got, h)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(es []Entry) []Entry
		checked int
		want    *Break
	}{
		{name: "whole", edit: func(es []Entry) []Entry { return es }, checked: 5},
		{name: "empty", edit: func(es []Entry) []Entry { return nil }, checked: 0},
		{
			name:    "detail altered",
			edit:    func(es []Entry) []Entry { es[2].Detail = []byte(`{"note":"added later"}`); return es },
			checked: 2, want: &Break{Seq: 3, Problem: ContentAltered},
		},
		{
			name:    "actor altered",
			edit:    func(es []Entry) []Entry { es[0].Actor = "mallory@example.com"; return es },
			checked: 0, want: &Break{Seq: 1, Problem: ContentAltered},
		},
		{
			name: "altered and rehashed",
			edit: func(es []Entry) []Entry {
				es[2].Actor = "mallory@example.com"
				es[2].Hash = Hash(es[2].PrevHash, es[2])
				return es
			},
			checked: 3, want: &Break{Seq: 4, Problem: ChainBroken},
		},
		{
			name:    "middle entry deleted",
			edit:    func(es []Entry) []Entry { return slices.Delete(es, 2, 3) },
			checked: 2, want: &Break{Seq: 3, Problem: SequenceGap},
		},
		{
			name:    "first entry deleted",
			edit:    func(es []Entry) []Entry { return es[1:] },
			checked: 0, want: &Break{Seq: 1, Problem: SequenceGap},
		},
		{
			name: "deleted and renumbered",
			edit: func(es []Entry) []Entry {
				es = slices.Delete(es, 2, 3)
				for i := 2; i < len(es); i++ {
					es[i].Seq--
				}
				return es
			},
			checked: 2, want: &Break{Seq: 3, Problem: ContentAltered},
		},
		{
			name:    "entries swapped",
			edit:    func(es []Entry) []Entry { es[1], es[2] = es[2], es[1]; return es },
			checked: 1, want: &Break{Seq: 2, Problem: SequenceGap},
		},
		{
			name:    "entry repeated",
			edit:    func(es []Entry) []Entry { return slices.Insert(es, 2, es[1]) },
			checked: 2, want: &Break{Seq: 2, Problem: SequenceGap},
		},
		{
			name: "entry of another chain",
			edit: func(es []Entry) []Entry {
				other := chain("globex", sample())
				es[3] = other[3]
				return es
			},
			checked: 3, want: &Break{Seq: 4, Problem: ChainBroken},
		},
		{
			name: "first entry with a previous hash",
			edit: func(es []Entry) []Entry {
				es[0].PrevHash = strings.Repeat("a", 64)
				es[0].Hash = Hash(es[0].PrevHash, es[0])
				return es
			},
			checked: 0, want: &Break{Seq: 1, Problem: ChainBroken},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.edit(sample())
			res, err := Verify(seq(es))
			if err != nil {
				t.Fatal(err)
			}
			if res.Checked != tt.checked {
				t.Errorf("checked %d entries good, want %d", res.Checked, tt.checked)
			}
			if tt.want == nil {
				if res.Break != nil {
					t.Errorf("break %v, want none", res.Break)
				}
				if len(es) > 0 && res.Head != (Head{Seq: es[len(es)-1].Seq, Hash: es[len(es)-1].Hash}) {
					t.Errorf("head %+v, want the last entry's", res.Head)
				}
				return
			}
			if res.Break == nil {
				t.Fatalf("no break, want %s at entry %d", tt.want.Problem, tt.want.Seq)
			}
			if res.Break.Seq != tt.want.Seq || res.Break.Problem != tt.want.Problem {
				t.Errorf("break %q, want %s at entry %d", res.Break, tt.want.Problem, tt.want.Seq)
			}
			if !strings.Contains(res.Break.Error(), fmt.Sprintf("audit entry %d: ", res.Break.Seq)) {
				t.Errorf("break message %q does not name the entry", res.Break)
			}
		})
	}
}

func TestVerifierEnd(t *testing.T) {
	es := sample()
	last := Head{Seq: 5, Hash: es[4].Hash}
	tests := []struct {
		name    string
		entries []Entry
		head    Head
		want    *Break
	}{
		{"whole", es, last, nil},
		{"last two deleted", es[:3], last, &Break{Seq: 4, Problem: Truncated}},
		{"all deleted", nil, last, &Break{Seq: 1, Problem: Truncated}},
		{"last replaced", append(slices.Clone(es[:4]), chain("acme", sample())[4]), Head{Seq: 5, Hash: strings.Repeat("f", 64)},
			&Break{Seq: 5, Problem: ChainBroken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v Verifier
			for _, e := range tt.entries {
				if b := v.Check(e); b != nil {
					t.Fatalf("check: %v", b)
				}
			}
			got := v.End(tt.head)
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("End: %v, want no break", got)
			case tt.want != nil && (got == nil || got.Seq != tt.want.Seq || got.Problem != tt.want.Problem):
				t.Errorf("End: %v, want %s at entry %d", got, tt.want.Problem, tt.want.Seq)
			}
		})
	}
}

// TestVerifierResume checks a chain in two parts, the second from the
// head the first ended at.
func TestVerifierResume(t *testing.T) {
	es := sample()
	first, err := Verify(seq(es[:2]))
	if err != nil || first.Break != nil {
		t.Fatalf("first part: %v %v", err, first.Break)
	}
	v := NewVerifier(first.Head)
	for _, e := range es[2:] {
		if b := v.Check(e); b != nil {
			t.Fatalf("resumed: %v", b)
		}
	}
	if v.Checked() != 3 || v.Head().Seq != 5 {
		t.Errorf("resumed verifier checked %d up to %d, want 3 up to 5", v.Checked(), v.Head().Seq)
	}
	// Resuming from a head that is not the chain's breaks at once.
	v = NewVerifier(Head{Seq: 2, Hash: es[0].Hash})
	if b := v.Check(es[2]); b == nil || b.Problem != ChainBroken || b.Seq != 3 {
		t.Errorf("resume from a wrong head: %v, want a broken link at 3", b)
	}
	if b := v.Check(es[3]); b == nil || b.Seq != 3 {
		t.Errorf("after a break, Check gives %v, want the first break again", b)
	}
}

func TestVerifyReadError(t *testing.T) {
	es := sample()
	boom := errors.New("connection reset")
	entries := func(yield func(Entry, error) bool) {
		if !yield(es[0], nil) {
			return
		}
		yield(Entry{}, boom)
	}
	res, err := Verify(entries)
	if !errors.Is(err, boom) {
		t.Fatalf("Verify: error %v, want the read error", err)
	}
	if res.Checked != 1 || res.Break != nil {
		t.Errorf("Verify on a read error: %+v, want 1 checked and no break", res)
	}
}

func TestExportJSONLines(t *testing.T) {
	es := sample()
	var b bytes.Buffer
	n, err := ExportJSONLines(&b, seq(es))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(es) {
		t.Errorf("exported %d entries, want %d", n, len(es))
	}
	golden(t, "export.golden.jsonl", b.Bytes())
	if got := strings.Count(b.String(), "\n"); got != len(es) {
		t.Errorf("export has %d lines, want %d (multi-line detail must stay on its line)", got, len(es))
	}

	// Read back, the export verifies like the chain it came from.
	var back []Entry
	for e, err := range ReadJSONLines(bytes.NewReader(b.Bytes())) {
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, e)
	}
	res, err := Verify(seq(back))
	if err != nil || res.Break != nil || res.Checked != len(es) {
		t.Fatalf("verify the export read back: %+v, %v", res, err)
	}
	// Entries read back are the exported ones, with compact detail.
	want := sample()
	for i := range want {
		want[i].Detail = canonicalDetail(want[i].Detail)
	}
	if d := cmp.Diff(want, back); d != "" {
		t.Errorf("entries read back (-want +got):\n%s", d)
	}

	// An exported line edited afterwards is found.
	edited := bytes.Replace(b.Bytes(), []byte(`"emergency fix"`), []byte(`"planned change"`), 1)
	res, err = Verify(ReadJSONLines(bytes.NewReader(edited)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Break == nil || res.Break.Seq != 4 || res.Break.Problem != ContentAltered {
		t.Errorf("verify an edited export: %v, want content altered at entry 4", res.Break)
	}
}

func TestExportInvalidDetail(t *testing.T) {
	es := sample()
	es[1].Detail = []byte(`{"unterminated": `)
	var b bytes.Buffer
	n, err := ExportJSONLines(&b, seq(es))
	if err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("export of invalid detail: error %v, want one naming entry 2", err)
	}
	if n != 1 {
		t.Errorf("exported %d entries before the bad one, want 1", n)
	}
}

func TestReadJSONLinesErrors(t *testing.T) {
	var b bytes.Buffer
	if _, err := ExportJSONLines(&b, seq(sample()[:2])); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	for _, tt := range []struct {
		name, input string
		line        int
	}{
		{"not JSON", good + "hello\n", 3},
		{"unknown field", `{"seq":1,"hash":"x","extra":1}` + "\n", 1},
		{"not an entry", "\n{}\n", 2},
		{"two values", `{"seq":1,"hash":"x"} {"seq":2,"hash":"y"}` + "\n", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			var err error
			for _, e := range ReadJSONLines(strings.NewReader(tt.input)) {
				if e != nil {
					err = e
					break
				}
				n++
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d:", tt.line)) {
				t.Errorf("error %v after %d entries, want one naming line %d", err, n, tt.line)
			}
		})
	}
	// Blank lines and a last line without a newline are fine.
	input := "\n" + strings.TrimSuffix(strings.Replace(good, "\n", "\n\n", 1), "\n")
	var n int
	for _, err := range ReadJSONLines(strings.NewReader(input)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("read %d entries, want 2", n)
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
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
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}
