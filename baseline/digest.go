package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Digest is the SHA-256 of some bytes: file content, command output, a
// content blob or a canonical snapshot encoding. It is a value type and the
// zero Digest means "no content".
type Digest [sha256.Size]byte

// Sum returns the Digest of b.
func Sum(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// ParseDigest parses the 64-character lowercase or uppercase hex form.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("parse digest %q: want %d hex characters, have %d", s, 2*len(d), len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("parse digest %q: %w", s, err)
	}
	return d, nil
}

// String returns the 64-character lowercase hex form.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Short returns the first 12 hex characters, for logs and messages.
func (d Digest) Short() string { return hex.EncodeToString(d[:6]) }

// IsZero reports whether d is the zero Digest.
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText encodes d as hex; the zero Digest encodes as an empty string.
func (d Digest) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	out := make([]byte, 2*len(d))
	hex.Encode(out, d[:])
	return out, nil
}

// UnmarshalText decodes the hex form; an empty text gives the zero Digest.
func (d *Digest) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Digest{}
		return nil
	}
	v, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
