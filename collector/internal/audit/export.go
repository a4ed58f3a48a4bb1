package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"
)

// line is one entry in the export format: one JSON object per line.
type line struct {
	Tenant   string          `json:"tenant"`
	Seq      uint64          `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// ExportJSONLines writes entries to w as JSON Lines, one object per entry
// with the fields tenant, seq, at (RFC 3339 in UTC), actor, action,
// subject, detail (the JSON itself, without insignificant white space;
// left out when empty), prev_hash and hash. It returns how many entries it
// wrote. An export read back with ReadJSONLines verifies exactly as the
// stored chain does.
func ExportJSONLines(w io.Writer, entries iter.Seq2[Entry, error]) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	// No HTML escaping: the detail must come out as json.Compact gives it,
	// which is what the hash covers.
	enc.SetEscapeHTML(false)
	n := 0
	for e, err := range entries {
		if err != nil {
			return n, fmt.Errorf("export audit entries after entry %d: %w", n, err)
		}
		if len(e.Detail) > 0 && !json.Valid(e.Detail) {
			return n, fmt.Errorf("export audit entry %d: detail is not valid JSON", e.Seq)
		}
		l := line{Tenant: e.TenantID, Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, Action: e.Action,
			Subject: e.Subject, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}
		if err := enc.Encode(l); err != nil {
			return n, fmt.Errorf("export audit entry %d: %w", e.Seq, err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export audit entries: %w", err)
	}
	return n, nil
}

// ReadJSONLines reads entries that ExportJSONLines wrote, in the order
// written. Empty lines are skipped; a line that is not an entry ends the
// sequence with an error naming the line.
func ReadJSONLines(r io.Reader) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		br := bufio.NewReader(r)
		for n := 1; ; n++ {
			b, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(b)) > 0 {
				e, perr := parseLine(b)
				if perr != nil {
					yield(Entry{}, fmt.Errorf("audit export line %d: %w", n, perr))
					return
				}
				if !yield(e, nil) {
					return
				}
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Entry{}, fmt.Errorf("read audit export line %d: %w", n, err))
				return
			}
		}
	}
}

// parseLine decodes one exported entry.
func parseLine(b []byte) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var l line
	if err := dec.Decode(&l); err != nil {
		return Entry{}, err
	}
	if dec.More() {
		return Entry{}, errors.New("more than one JSON value")
	}
	if l.Seq == 0 || l.Hash == "" {
		return Entry{}, errors.New("not an audit entry: no seq or hash")
	}
	e := Entry{TenantID: l.Tenant, Seq: l.Seq, At: l.At.UTC(), Actor: l.Actor, Action: l.Action,
		Subject: l.Subject, PrevHash: l.PrevHash, Hash: l.Hash}
	if len(l.Detail) > 0 {
		e.Detail = []byte(l.Detail)
	}
	return e, nil
}
