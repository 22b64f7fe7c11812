package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Page sizes: 0 means the default, above the maximum is clamped, negative is
// refused (AIP-158).
const (
	defaultPageSize = 50
)

// pageTokens seals the upstream cursor of a list or search into an opaque
// page token. The token is bound to the method and to a hash of the
// request's filters, so it cannot be replayed with other filters, and it is
// authenticated, so a tampered token is refused instead of being sent to
// HighLevel.
type pageTokens struct {
	aead cipher.AEAD
}

// newPageTokens derives the sealing key from secret (the token key when
// configured, so every replica accepts every other replica's tokens; random
// otherwise, for a single in-memory replica).
func newPageTokens(secret []byte) (*pageTokens, error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
	}
	// A separate key for page tokens: a page token must never be usable to
	// learn anything about the token-encryption key.
	k := sha256.Sum256(append([]byte("hlgate page token v1\x00"), secret...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &pageTokens{aead: aead}, nil
}

type pagePayload struct {
	Filters []byte          `json:"f"` // SHA-256 of the request's filters
	Cursor  json.RawMessage `json:"c"` // the product's own cursor
}

// seal returns the page token for cursor, bound to method and filters.
func (p *pageTokens) seal(method string, filters proto.Message, cursor any) (string, error) {
	c, err := json.Marshal(cursor)
	if err != nil {
		return "", fmt.Errorf("page token: %w", err)
	}
	plain, err := json.Marshal(pagePayload{Filters: filterHash(filters), Cursor: c})
	if err != nil {
		return "", fmt.Errorf("page token: %w", err)
	}
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(plain)+p.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("page token: %w", err)
	}
	sealed := p.aead.Seal(nonce, nonce, plain, []byte(method))
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

var errBadPageToken = errors.New("page token is malformed, tampered with, or belongs to another request")

// open decodes a page token into cursor. It fails with INVALID_ARGUMENT
// naming page_token when the token is malformed, tampered with, from another
// method, or was issued for other filters.
func (p *pageTokens) open(method, token string, filters proto.Message, cursor any) error {
	bad := func() error {
		return invalid(&errdetails.BadRequest_FieldViolation{Field: "page_token", Description: errBadPageToken.Error()})
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < p.aead.NonceSize()+p.aead.Overhead() {
		return bad()
	}
	nonce, sealed := raw[:p.aead.NonceSize()], raw[p.aead.NonceSize():]
	plain, err := p.aead.Open(nil, nonce, sealed, []byte(method))
	if err != nil {
		return bad()
	}
	var pl pagePayload
	if err := json.Unmarshal(plain, &pl); err != nil {
		return bad()
	}
	if string(pl.Filters) != string(filterHash(filters)) {
		return invalid(&errdetails.BadRequest_FieldViolation{Field: "page_token", Description: "page token was issued for different filters; start again without page_token"})
	}
	if err := json.Unmarshal(pl.Cursor, cursor); err != nil {
		return bad()
	}
	return nil
}

// filterHash hashes the filter fields of a request: the request with its
// paging fields (page_size, page_token) cleared, in deterministic wire form.
// page_size may change from page to page (AIP-158); nothing else may.
func filterHash(req proto.Message) []byte {
	c := proto.Clone(req).ProtoReflect()
	for _, name := range []protoreflect.Name{"page_size", "page_token"} {
		if fd := c.Descriptor().Fields().ByName(name); fd != nil {
			c.Clear(fd)
		}
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c.Interface())
	h := sha256.Sum256(b)
	return h[:16]
}

// pageSize applies the paging rules: 0 → def, above max → max, negative →
// INVALID_ARGUMENT naming page_size.
func pageSize(n int32, def, maxSize int) (int, error) {
	switch {
	case n < 0:
		return 0, invalid(&errdetails.BadRequest_FieldViolation{Field: "page_size", Description: "must not be negative"})
	case n == 0:
		return min(def, maxSize), nil // a default above HighLevel's maximum would be refused
	case int(n) > maxSize:
		return maxSize, nil
	}
	return int(n), nil
}
