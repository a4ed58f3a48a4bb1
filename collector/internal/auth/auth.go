package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Prefixes of the secrets the collector hands out.
const (
	// PrefixEnrollToken starts an enrollment token.
	PrefixEnrollToken = "dwe_"
	// PrefixHostCredential starts a host's credential.
	PrefixHostCredential = "dwh_"
	// PrefixUserToken starts a user's API token.
	PrefixUserToken = "dwu_"
)

// Prefixes of the IDs the collector chooses.
const (
	// PrefixHostID starts a host ID.
	PrefixHostID = "h_"
	// PrefixTokenID starts an enrollment token's ID.
	PrefixTokenID = "t_"
	// PrefixUserID starts a user ID.
	PrefixUserID = "u_"
	// PrefixTenantID starts a tenant ID.
	PrefixTenantID = "tn_"
	// PrefixTicketID starts the ID of a change ticket.
	PrefixTicketID = "chg_"
	// PrefixDriftID starts the ID of a drift item.
	PrefixDriftID = "d_"
)

// secretBytes is the number of random bytes in a secret.
const secretBytes = 32

// idBytes is the number of random bytes in an ID.
const idBytes = 12

// NewSecret returns a new secret, prefix followed by 32 random bytes in
// unpadded base64url, and its Hash, which is what the store keeps.
func NewSecret(prefix string) (secret, hash string, err error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new %s secret: %w", prefix, err)
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, Hash(secret), nil
}

// Hash returns the SHA-256 of secret as 64 lowercase hex characters.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewID returns a new random ID: prefix ("h_", "t_" …) followed by 24
// lowercase hex characters.
func NewID(prefix string) (string, error) {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new %s ID: %w", prefix, err)
	}
	return prefix + hex.EncodeToString(b), nil
}
