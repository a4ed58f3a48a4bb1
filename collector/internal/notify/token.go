package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Subscription names one recipient's place on one list of one tenant:
// what a signed link in a notification email speaks for.
type Subscription struct {
	TenantID string
	// Recipient is the bare address, lowercased (store.NormalizeRecipient).
	Recipient string
	// List is store.ListDigest, store.ListSummary or store.ListAlert.
	List string
}

// ErrBadToken is the error of a link token that was not signed by the
// collector's key or was altered.
var ErrBadToken = errors.New("the link is not valid: it was altered or not issued by this collector")

// Signer signs and checks the tokens of the preference and unsubscribe
// links of notification emails with HMAC-SHA256, so that a recipient can
// change their choices without signing in, and nobody can change another
// recipient's. It is safe for concurrent use.
type Signer struct {
	key []byte
}

// minKey is the shortest signing key, in bytes.
const minKey = 32

// NewSigner returns a Signer with key, at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < minKey {
		return nil, fmt.Errorf("notification signing key: %d bytes, want at least %d", len(key), minKey)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// KeyStore keeps the signing key: store.Store is one.
type KeyStore interface {
	NotifySigningKey(ctx context.Context, key []byte) ([]byte, error)
}

// SignerFromStore returns a Signer with the store's key, storing a new
// random key when there is none, so that every collector sharing the
// store signs alike.
func SignerFromStore(ctx context.Context, st KeyStore) (*Signer, error) {
	fresh := make([]byte, minKey)
	_, _ = rand.Read(fresh) // never fails
	key, err := st.NotifySigningKey(ctx, fresh)
	if err != nil {
		return nil, err
	}
	return NewSigner(key)
}

// tokenSep separates the fields of a token's payload; an address, a
// tenant ID and a list name never hold it.
const tokenSep = "\n"

// mac is the token's signature over payload, for purpose.
func (s *Signer) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("driftwatch/notify/v1/" + purpose + "\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)[:20]
}

// Sign returns the token of sub for a link: URL-safe, without padding.
func (s *Signer) Sign(sub Subscription) string {
	payload := strings.Join([]string{sub.TenantID, store.NormalizeRecipient(sub.Recipient), sub.List}, tokenSep)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.mac("link", payload))
}

// Verify checks a token and returns what it speaks for; ErrBadToken when
// it was altered or signed with another key.
func (s *Signer) Verify(token string) (Subscription, error) {
	enc := base64.RawURLEncoding
	p64, m64, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok {
		return Subscription{}, ErrBadToken
	}
	payload, err1 := enc.DecodeString(p64)
	sig, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, s.mac("link", string(payload))) {
		return Subscription{}, ErrBadToken
	}
	f := strings.Split(string(payload), tokenSep)
	if len(f) != 3 || f[0] == "" || f[1] == "" {
		return Subscription{}, ErrBadToken
	}
	sub := Subscription{TenantID: f[0], Recipient: f[1], List: f[2]}
	if !slices.Contains(store.NotifyLists, sub.List) {
		return Subscription{}, ErrBadToken
	}
	return sub, nil
}

// FormToken returns the anti-forgery value of the preference form opened
// with a link token: bound to that token, so a form can be sent only by
// someone who opened the page with the link.
func (s *Signer) FormToken(token string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("form", token))
}

// CheckFormToken reports whether form is FormToken(token).
func (s *Signer) CheckFormToken(token, form string) bool {
	got, err := base64.RawURLEncoding.DecodeString(form)
	return err == nil && token != "" && hmac.Equal(got, s.mac("form", token))
}

// BareAddress returns the address of a recipient as written ("Ops
// <ops@example.com>" or "ops@example.com"), normalized for preferences.
func BareAddress(to string) string {
	if a, err := mail.ParseAddress(to); err == nil {
		return store.NormalizeRecipient(a.Address)
	}
	return store.NormalizeRecipient(to)
}
