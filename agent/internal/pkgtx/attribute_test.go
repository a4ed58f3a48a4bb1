package pkgtx

import (
	"testing"
	"time"
)

func TestPkgtxAttribute(t *testing.T) {
	t0 := time.Date(2025, 1, 14, 2, 15, 0, 0, time.UTC)
	log, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log.alive = func(pid int, _ uint64) bool { return pid == 300 }
	log.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	recs := []*record{
		{Transaction: Transaction{ID: "a-patch", Tool: ToolApt, Command: "apt-get upgrade -y", User: "alice",
			Started: t0, Ended: t0.Add(40 * time.Second),
			Packages: []PackageChange{{Name: "openssl", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: ActionUpgrade}}}},
		{Transaction: Transaction{ID: "b-nginx", Tool: ToolApt, Command: "apt-get install -y nginx", User: "bob",
			Started: t0.Add(2 * time.Hour), Ended: t0.Add(2*time.Hour + 10*time.Second),
			Packages: []PackageChange{{Name: "nginx", Arch: "amd64", To: "1.22.1-9+deb12u1", Action: ActionInstall}}}},
		// Begun 47 h after t0 by a process that still runs: in progress.
		{Transaction: Transaction{ID: "c-running", Tool: ToolApt, Started: t0.Add(47 * time.Hour), Packages: []PackageChange{}}, PID: 300},
	}
	for _, r := range recs {
		r.Format = recordFormat
		if err := writeRecord(log.Dir(), r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		item ItemChange
		want string // transaction ID, "" for none
	}{
		{"file inside", ItemChange{"file:/etc/ssl/openssl.cnf", t0.Add(12 * time.Second)}, "a-patch"},
		{"file at the start", ItemChange{"file:/etc/ssl/openssl.cnf", t0}, "a-patch"},
		{"file within settle", ItemChange{"file:/etc/ld.so.cache", t0.Add(40*time.Second + DefaultSettle)}, "a-patch"},
		{"file after settle", ItemChange{"file:/etc/ssh/sshd_config", t0.Add(41*time.Second + DefaultSettle)}, ""},
		{"file before any", ItemChange{"file:/etc/hosts", t0.Add(-time.Second)}, ""},
		{"file between", ItemChange{"file:/etc/motd", t0.Add(time.Hour)}, ""},
		{"second transaction", ItemChange{"file:/etc/nginx/nginx.conf", t0.Add(2*time.Hour + 3*time.Second)}, "b-nginx"},
		{"package changed, seen by a later scan", ItemChange{"package:openssl", t0.Add(6 * time.Hour)}, "a-patch"},
		{"package with arch", ItemChange{"package:openssl:amd64", t0.Add(6 * time.Hour)}, "a-patch"},
		{"package other arch", ItemChange{"package:openssl:i386", t0.Add(6 * time.Hour)}, ""},
		{"package not changed", ItemChange{"package:curl", t0.Add(6 * time.Hour)}, ""},
		{"package past lookback", ItemChange{"package:nginx", t0.Add(2*time.Hour + 10*time.Second + DefaultPackageLookback + time.Second)}, ""},
		{"package seen before the transaction", ItemChange{"package:nginx", t0.Add(time.Hour)}, ""},
		{"in progress", ItemChange{"file:/etc/apt/sources.list", t0.Add(47*time.Hour + time.Minute)}, "c-running"},
	}
	items := make([]ItemChange, len(tests))
	for i, tt := range tests {
		items[i] = tt.item
	}
	// One at a time, so that items with the same key are told apart.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := log.Attribute([]ItemChange{tt.item})
			if err != nil {
				t.Fatal(err)
			}
			tx := got[tt.item.Key]
			switch {
			case tt.want == "" && tx != nil:
				t.Errorf("attributed to %s, want none", tx.ID)
			case tt.want != "" && tx == nil:
				t.Errorf("not attributed, want %s", tt.want)
			case tx != nil && tx.ID != tt.want:
				t.Errorf("attributed to %s, want %s", tx.ID, tt.want)
			}
		})
	}
	// Together: items of one transaction share it.
	got, err := log.Attribute([]ItemChange{items[0], items[2], items[7]})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := got["file:/etc/ssl/openssl.cnf"], got["package:openssl"]; a == nil || a != b || a.User != "alice" || a.Command != "apt-get upgrade -y" {
		t.Errorf("items of one transaction: %+v and %+v, want the same with its user and command", a, b)
	}
	if len(got) != 3 {
		t.Errorf("attributed %d items, want 3", len(got))
	}
}
