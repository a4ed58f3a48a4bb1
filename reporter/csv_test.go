package reporter

import (
	"bytes"
	"encoding/csv"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChangeLogCSVReadsBack(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteChangeLogCSV(&buf, fixChangeLog(), berlin); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\r\n")) {
		t.Error("lines do not end with CRLF (RFC 4180)")
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ChangeLogColumns, recs[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	want := [][]string{
		{"2024-11-20T06:02:00+01:00", "Acme Corp", "web-01", "file:/etc/ssh/sshd_config", "modified", "PermitRootLogin no → yes", "unauthorized", "", "", "unknown", "NOC, Acme security", "Escalated, level 3"},
		{"2024-10-30T22:10:00+01:00", "Acme Corp", "web-01", "file:/etc/nginx/nginx.conf", "modified", "ssl_protocols TLSv1.2 TLSv1.3", "authorized", "CHG-1042", "Harden nginx TLS settings", "sam@msp.example", "Acme helpdesk", "Line one, \"quoted\"\nline two"},
		{"2024-10-29T09:00:00+01:00", "Acme Corp", "db-01", "command:=HYPERLINK(\"http://evil.example\",\"x\")", "added", "'+1 line", "unauthorized", "", "", "'@attacker", "", "'-2+3"},
	}
	if diff := cmp.Diff(want, recs[1:]); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestChangeLogCSVWriteError(t *testing.T) {
	err := WriteChangeLogCSV(failWriter{}, fixChangeLog(), nil)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("write change log csv: disk full")) {
		t.Errorf("error %v, want it to name the change log and the cause", err)
	}
}
