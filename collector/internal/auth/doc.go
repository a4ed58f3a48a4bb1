// Package auth makes the collector's secrets and IDs: enrollment tokens,
// host credentials and user API tokens, each a random secret with a prefix
// that says what it is, of which the store keeps only the SHA-256 hash.
//
// A secret is shown once, to whoever asked for it; the collector finds the
// caller again by hashing the secret it presents (Hash) and looking the hash
// up. The hash needs no salt or slow key derivation: the secrets are 256
// random bits, not passwords a person chose.
package auth
