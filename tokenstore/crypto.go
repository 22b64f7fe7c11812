package tokenstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a token-encryption key: AES-256.
const KeySize = 32

// Keyring encrypts records with the current key and decrypts with the current
// key or any older one, so keys can be rotated without a flag day: deploy the
// new key as current with the old one listed as old, and records move to the
// new key as they are next written (every refresh rewrites its record).
type Keyring struct {
	current string // key id
	aeads   map[string]cipher.AEAD
}

// NewKeyring builds a keyring from raw 32-byte keys; old may be empty.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: make(map[string]cipher.AEAD)}
	id, err := k.add(current)
	if err != nil {
		return nil, fmt.Errorf("current key: %w", err)
	}
	k.current = id
	for i, o := range old {
		if _, err := k.add(o); err != nil {
			return nil, fmt.Errorf("old key %d: %w", i+1, err)
		}
	}
	return k, nil
}

// ParseKeys builds a keyring from the HLGATE_TOKEN_KEY value (standard
// base64 of 32 bytes) and the HLGATE_TOKEN_OLD_KEYS value (a comma-separated
// list of the same, may be empty). Errors name the setting, never the key.
func ParseKeys(current, old string) (*Keyring, error) {
	cur, err := DecodeKey(current)
	if err != nil {
		return nil, fmt.Errorf("HLGATE_TOKEN_KEY: %w", err)
	}
	var olds [][]byte
	for i, s := range strings.Split(old, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		b, err := DecodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("HLGATE_TOKEN_OLD_KEYS entry %d: %w", i+1, err)
		}
		olds = append(olds, b)
	}
	return NewKeyring(cur, olds...)
}

// DecodeKey decodes one base64 key of KeySize bytes (padded or not), as
// HLGATE_TOKEN_KEY holds it.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty: want base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), KeySize)
	}
	return b, nil
}

// KeyID derives the id stored beside each ciphertext from a key: the first 8
// bytes of its SHA-256, in hex. It names the key without revealing it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

func (k *Keyring) add(key []byte) (string, error) {
	if len(key) != KeySize {
		return "", fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", fmt.Errorf("gcm: %w", err)
	}
	id := KeyID(key)
	k.aeads[id] = aead
	return id, nil
}

// CurrentKeyID is the id of the key new records are encrypted with.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plaintext with the current key and a random nonce, binding it
// to ad (the record's key, so a ciphertext copied to another subject's key
// does not decrypt). It returns the key id and nonce||ciphertext.
func (k *Keyring) Seal(plaintext, ad []byte) (keyID string, sealed []byte, err error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("nonce: %w", err)
	}
	return k.current, aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open authenticates and decrypts what Seal returned. Any failure is
// ErrDecrypt: tampered bytes, a key not in the ring, or the wrong ad.
func (k *Keyring) Open(keyID string, sealed, ad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: key id %q is not configured (HLGATE_TOKEN_KEY / HLGATE_TOKEN_OLD_KEYS)", ErrDecrypt, keyID)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrDecrypt)
	}
	return pt, nil
}

// sealRecord encrypts a record for storage under key.
func (k *Keyring) sealRecord(rec *Record, key string) (string, []byte, error) {
	pt, err := json.Marshal(rec)
	if err != nil {
		return "", nil, fmt.Errorf("encode record: %w", err)
	}
	return k.Seal(pt, []byte(key))
}

// openRecord decrypts a stored record and checks that it is the one stored
// under key at version: the version beside the ciphertext is what scripts
// compare, and it must agree with the authenticated one inside.
func (k *Keyring) openRecord(keyID string, sealed []byte, key string, version uint64) (Record, error) {
	pt, err := k.Open(keyID, sealed, []byte(key))
	if err != nil {
		return Record{}, err
	}
	var rec Record
	if err := json.Unmarshal(pt, &rec); err != nil {
		return Record{}, fmt.Errorf("%w: decode: %v", ErrDecrypt, err)
	}
	if rec.Version != version {
		return Record{}, fmt.Errorf("%w: stored version %d does not match encrypted version %d", ErrDecrypt, version, rec.Version)
	}
	return rec, nil
}
