package connector

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", KeyFileName)
	s, err := LoadSealer(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Errorf("key file: mode %v, %d bytes; want 0600, 32", fi.Mode().Perm(), fi.Size())
	}
	key, _ := os.ReadFile(path)

	creds := Credentials{Username: "svc-driftwatch", Password: "correct horse battery"}
	sealed, err := s.Seal("acme-snow", creds)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("correct horse")) {
		t.Error("sealed credentials hold the password in the clear")
	}
	again, _ := s.Seal("acme-snow", creds)
	if bytes.Equal(sealed, again) {
		t.Error("two seals of the same credentials are equal: the nonce is not random")
	}

	// A second load keeps the key and opens what the first sealed.
	s2, err := LoadSealer(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := os.ReadFile(path); !bytes.Equal(key, k2) {
		t.Fatal("loading the key again replaced it")
	}
	got, err := s2.Open("acme-snow", sealed)
	if err != nil || got != creds {
		t.Fatalf("open: %v, %v", got.Username, err)
	}

	other, err := LoadSealer(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(sealed)
	damaged[len(damaged)-1] ^= 1
	for name, tc := range map[string]struct {
		s         *Sealer
		connector string
		sealed    []byte
	}{
		"another key":       {other, "acme-snow", sealed},
		"another connector": {s, "globex-snow", sealed},
		"damaged":           {s, "acme-snow", damaged},
		"truncated":         {s, "acme-snow", sealed[:10]},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.s.Open(tc.connector, tc.sealed)
			if !errors.Is(err, ErrAuth) {
				t.Errorf("open: %v, want ErrAuth", err)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("correct horse")) {
				t.Error("the error shows the password")
			}
		})
	}

	bad := filepath.Join(dir, "short.key")
	if err := os.WriteFile(bad, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSealer(bad); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

func TestInlineCredentials(t *testing.T) {
	c := Credentials{Secret: "hook-secret"}
	got, err := CredentialSource{Inline: &c}.Load()
	if err != nil || got != c {
		t.Errorf("inline credentials: %v, %v", got.Secret == c.Secret, err)
	}
}
