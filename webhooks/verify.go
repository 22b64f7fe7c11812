package webhooks

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// HighLevelPublicKey is the Ed25519 key HighLevel signs X-GHL-Signature
// with, as its Webhook Integration Guide publishes it (base64 of the SPKI
// DER; reference facts §9, the key integrators quote from that guide). It
// is the receiver's default; HLGATE_WEBHOOK_PUBLIC_KEY replaces it, which is
// how a changed key is taken without a release.
const HighLevelPublicKey = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="

// The signature headers HighLevel sends (reference facts §9). Ed25519 is the
// current scheme; the RSA header was deprecated on 2026-07-01.
const (
	SignatureHeader       = "X-GHL-Signature"
	LegacySignatureHeader = "X-WH-Signature"
)

// Reasons a request is refused; they are the values of the rejected
// counter's reason label, so the set is fixed.
const (
	ReasonMissingSignature   = "missing_signature"
	ReasonMalformedSignature = "malformed_signature"
	ReasonBadSignature       = "bad_signature"
	ReasonTooLarge           = "too_large"
	ReasonUnreadable         = "unreadable_body"
	ReasonMalformedBody      = "malformed_body"
	ReasonMissingWebhookID   = "missing_webhook_id"
	ReasonBadTimestamp       = "bad_timestamp"
	ReasonStale              = "stale"
	ReasonFuture             = "future"
	ReasonOtherApp           = "other_app"
)

var rejectReasons = []string{
	ReasonMissingSignature, ReasonMalformedSignature, ReasonBadSignature,
	ReasonTooLarge, ReasonUnreadable, ReasonMalformedBody, ReasonMissingWebhookID,
	ReasonBadTimestamp, ReasonStale, ReasonFuture, ReasonOtherApp,
}

// VerifyError says why a signature was refused; Reason is one of the
// Reason* constants.
type VerifyError struct {
	Reason string
	Err    error
}

// Error says which check failed and why.
func (e *VerifyError) Error() string { return "webhook signature: " + e.Reason + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Verifier checks HighLevel's signature over the raw request body. It holds
// public keys only.
type Verifier struct {
	ed     ed25519.PublicKey
	legacy *rsa.PublicKey // nil: X-WH-Signature is not accepted
}

// NewVerifier returns a Verifier for HighLevel's Ed25519 key (required) and,
// when legacyRSA is not nil, the legacy RSA key.
func NewVerifier(ed ed25519.PublicKey, legacyRSA *rsa.PublicKey) (*Verifier, error) {
	if len(ed) != ed25519.PublicKeySize {
		return nil, errors.New("webhooks: an Ed25519 public key is required")
	}
	if legacyRSA != nil && legacyRSA.N.BitLen() < 2048 {
		return nil, fmt.Errorf("webhooks: legacy RSA key has %d bits, fewer than 2048", legacyRSA.N.BitLen())
	}
	return &Verifier{ed: ed, legacy: legacyRSA}, nil
}

// Verify checks the signature of body, the exact bytes received. The
// Ed25519 header decides whenever it is present: a failing Ed25519
// signature is never rescued by the legacy one. The legacy header is
// considered only when a legacy key is configured. A request with neither
// is refused: there is no unsigned path.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if sig := h.Get(SignatureHeader); sig != "" {
		raw, err := decodeSignature(sig)
		if err != nil {
			return &VerifyError{Reason: ReasonMalformedSignature, Err: fmt.Errorf("%s: %w", SignatureHeader, err)}
		}
		if len(raw) != ed25519.SignatureSize {
			return &VerifyError{Reason: ReasonMalformedSignature, Err: fmt.Errorf("%s: %d bytes, want %d", SignatureHeader, len(raw), ed25519.SignatureSize)}
		}
		if !ed25519.Verify(v.ed, body, raw) {
			return &VerifyError{Reason: ReasonBadSignature, Err: errors.New("Ed25519 signature does not match the body")}
		}
		return nil
	}
	if sig := h.Get(LegacySignatureHeader); sig != "" && v.legacy != nil {
		raw, err := decodeSignature(sig)
		if err != nil {
			return &VerifyError{Reason: ReasonMalformedSignature, Err: fmt.Errorf("%s: %w", LegacySignatureHeader, err)}
		}
		// Node's createVerify('SHA256') with an RSA key: PKCS#1 v1.5 over
		// SHA-256 (WebhookAuthentication.md).
		sum := sha256.Sum256(body)
		if err := rsa.VerifyPKCS1v15(v.legacy, crypto.SHA256, sum[:], raw); err != nil {
			return &VerifyError{Reason: ReasonBadSignature, Err: errors.New("RSA signature does not match the body")}
		}
		return nil
	}
	want := SignatureHeader
	if v.legacy != nil {
		want += " or " + LegacySignatureHeader
	}
	return &VerifyError{Reason: ReasonMissingSignature, Err: fmt.Errorf("no %s header", want)}
}

func decodeSignature(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return b, nil
}

// ParseEd25519PublicKey reads an Ed25519 public key given as PEM ("PUBLIC
// KEY", SPKI), as the base64 of the SPKI DER (the form HighLevel
// publishes), or as base64 of the raw 32 bytes. PEM whose line breaks were
// written as `\n` (common in environment variables) is accepted too.
func ParseEd25519PublicKey(s string) (ed25519.PublicKey, error) {
	der, err := keyDER(s)
	if err != nil {
		return nil, err
	}
	if len(der) == ed25519.PublicKeySize {
		// The raw key, as some tools print it; SPKI DER is never 32 bytes.
		return ed25519.PublicKey(der), nil
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not an SPKI public key: %w", err)
	}
	ed, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", pub)
	}
	return ed, nil
}

// ParseRSAPublicKey reads an RSA public key given as PEM ("PUBLIC KEY" or
// "RSA PUBLIC KEY") or as the base64 of its DER, like the legacy key in
// HighLevel's WebhookAuthentication.md.
func ParseRSAPublicKey(s string) (*rsa.PublicKey, error) {
	der, err := keyDER(s)
	if err != nil {
		return nil, err
	}
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an RSA key", pub)
		}
		return k, nil
	}
	k, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, errors.New("not an RSA public key (SPKI or PKCS#1)")
	}
	return k, nil
}

// keyDER returns the DER of a PEM block or of base64 text.
func keyDER(s string) ([]byte, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, `\n`, "\n"))
	if s == "" {
		return nil, errors.New("empty key")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("malformed PEM")
		}
		if strings.TrimSpace(string(rest)) != "" {
			return nil, errors.New("more than one PEM block")
		}
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, errors.New("a private key: give the public key")
		}
		return block.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, errors.New("neither PEM nor base64")
	}
	return der, nil
}
