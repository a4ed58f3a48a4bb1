package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewSecret(t *testing.T) {
	for _, prefix := range []string{PrefixEnrollToken, PrefixHostCredential, PrefixUserToken} {
		t.Run(prefix, func(t *testing.T) {
			s1, h1, err := NewSecret(prefix)
			if err != nil {
				t.Fatal(err)
			}
			s2, _, err := NewSecret(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if s1 == s2 {
				t.Errorf("two secrets are equal: %s", s1)
			}
			rest, ok := strings.CutPrefix(s1, prefix)
			if !ok {
				t.Fatalf("secret %q lacks prefix %q", s1, prefix)
			}
			raw, err := base64.RawURLEncoding.DecodeString(rest)
			if err != nil {
				t.Fatalf("secret %q: not base64url: %v", s1, err)
			}
			if len(raw) != 32 {
				t.Errorf("secret has %d random bytes, want 32", len(raw))
			}
			if h1 != Hash(s1) {
				t.Errorf("hash %s is not Hash(secret) %s", h1, Hash(s1))
			}
		})
	}
}

func TestHash(t *testing.T) {
	sum := sha256.Sum256([]byte("dwu_abc"))
	want := hex.EncodeToString(sum[:])
	if got := Hash("dwu_abc"); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	if got := Hash("dwu_abc"); got != strings.ToLower(got) || len(got) != 64 {
		t.Errorf("Hash = %q, want 64 lowercase hex characters", got)
	}
}

func TestNewID(t *testing.T) {
	a, err := NewID(PrefixHostID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewID(PrefixHostID)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two IDs are equal: %s", a)
	}
	if !strings.HasPrefix(a, "h_") || len(a) != len("h_")+24 {
		t.Errorf("ID %q: want h_ and 24 hex characters", a)
	}
}
