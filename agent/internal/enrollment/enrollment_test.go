package enrollment

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() *Enrollment {
	return &Enrollment{
		CollectorURL: "https://collector.example.com:8443",
		Fingerprint:  strings.Repeat("ab", 32),
		HostID:       "h-0001",
		Tenant:       "acme",
		Credential:   "dwh_secret",
		EnrolledAt:   time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	want := sample()
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded enrollment differs (-saved +loaded):\n%s", diff)
	}
}

func TestLoadNotEnrolled(t *testing.T) {
	_, err := Load(t.TempDir())
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestLoadRefusesOpenMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	if err := Save(dir, sample()); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			if err := os.Chmod(Path(dir), mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil {
				t.Fatal("loaded an enrollment others can access")
			}
			if msg := err.Error(); !strings.Contains(msg, Path(dir)) || !strings.Contains(msg, fmt.Sprintf("%04o", mode)) {
				t.Errorf("error %q does not name the file and its mode", msg)
			}
		})
	}
}

func TestLoadRefusesInvalid(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"not json", "{", "unexpected end"},
		{"no credential", `{"collector_url":"https://c","host_id":"h"}`, "no credential"},
		{"fingerprint not canonical", `{"collector_url":"https://c","host_id":"h","credential":"x","fingerprint":"` + strings.Repeat("AB", 32) + `"}`, "lowercase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(Path(dir), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), Path(dir)) {
				t.Errorf("err = %v, want one naming the file and saying %q", err, tt.want)
			}
		})
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	e := sample()
	e.HostID = ""
	if err := Save(dir, e); err == nil {
		t.Fatal("saved an enrollment without host ID")
	}
	if _, err := os.Stat(Path(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file written anyway: %v", err)
	}
}

func TestNextSequence(t *testing.T) {
	dir := t.TempDir()
	if _, err := NextSequence(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NextSequence before enrollment: %v, want os.ErrNotExist", err)
	}
	if err := Save(dir, sample()); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		got, err := NextSequence(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("NextSequence = %d, want %d", got, want)
		}
	}
	// The sequence is on disk: a new process continues from it.
	e, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e.LastSequence != 3 {
		t.Errorf("reloaded last_sequence = %d, want 3", e.LastSequence)
	}
	if got, err := NextSequence(dir); err != nil || got != 4 {
		t.Errorf("NextSequence after reload = %d, %v; want 4", got, err)
	}
}

func TestUpdateFailureSavesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, sample()); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := Update(dir, func(e *Enrollment) error {
		e.LastSequence = 99
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	e, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e.LastSequence != 0 {
		t.Errorf("last_sequence = %d after a failed update, want 0", e.LastSequence)
	}
}
