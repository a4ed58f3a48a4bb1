// Package tlsutil gives the collector a TLS identity when the operator
// configures none, and lets agents trust it without a certificate
// authority.
//
// EnsureSelfSigned creates a self-signed ECDSA P-256 pair in the
// collector's data directory once and reuses it on every later start; it
// never replaces an existing certificate by itself, because agents pin it.
//
// Agents pin the certificate by its fingerprint: the SHA-256 of the
// certificate's DER encoding. The canonical form, used in configuration,
// storage and comparisons, is 64 lowercase hex digits (Fingerprint);
// FormatFingerprint renders it for people as 32 uppercase hex pairs joined
// by colons (AB:CD:…), the form browsers and openssl show, and
// ParseFingerprint accepts either form, with an optional "sha256:"
// prefix. PinnedVerifier checks a peer's certificate against a pin.
package tlsutil
