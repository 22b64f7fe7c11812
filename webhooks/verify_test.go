package webhooks

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// highLevelLegacyRSAKey is the RSA public key published in HighLevel's
// WebhookAuthentication.md (docs/oauth, snapshot 0af86a4c), used here only
// to prove the parser reads the form HighLevel publishes.
const highLevelLegacyRSAKey = `-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----`

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// legacyKey is one RSA key for the whole run (generating one is slow).
func legacyKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func TestParseEd25519PublicKey(t *testing.T) {
	t.Parallel()
	pub := testKey.Public().(ed25519.PublicKey)
	pemText := pubPEM(t, pub)
	for name, in := range map[string]string{
		"PEM":                  pemText,
		"base64 of SPKI DER":   pubSPKIBase64(t, pub),
		"PEM with literal \\n": strings.ReplaceAll(strings.TrimSpace(pemText), "\n", `\n`),
		"base64 of raw bytes":  base64.StdEncoding.EncodeToString(pub),
		"surrounding spaces":   "  " + pubSPKIBase64(t, pub) + "\n",
	} {
		got, err := ParseEd25519PublicKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("%s: parsed another key", name)
		}
	}

	privDER, err := x509.MarshalPKCS8PrivateKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"empty":         "",
		"garbage":       "not a key!",
		"RSA key":       highLevelLegacyRSAKey,
		"private key":   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
		"truncated DER": pubSPKIBase64(t, pub)[:20],
	} {
		if _, err := ParseEd25519PublicKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseRSAPublicKey(t *testing.T) {
	t.Parallel()
	k, err := ParseRSAPublicKey(highLevelLegacyRSAKey)
	if err != nil {
		t.Fatalf("HighLevel's published key: %v", err)
	}
	if k.N.BitLen() != 4096 {
		t.Errorf("HighLevel's key has %d bits, want 4096", k.N.BitLen())
	}
	pub := &legacyKey(t).PublicKey
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}))
	for name, in := range map[string]string{"SPKI PEM": pubPEM(t, pub), "PKCS#1 PEM": pkcs1, "base64 of SPKI DER": pubSPKIBase64(t, pub)} {
		got, err := ParseRSAPublicKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("%s: parsed another key", name)
		}
	}
	if _, err := ParseRSAPublicKey(pubPEM(t, testKey.Public())); err == nil {
		t.Error("an Ed25519 key was accepted as RSA")
	}
}

func TestNewVerifierNeedsAnEd25519Key(t *testing.T) {
	t.Parallel()
	if _, err := NewVerifier(nil, nil); err == nil {
		t.Error("a verifier without a key was built")
	}
}

// TestSignatures sends each kind of signed and unsigned request through the
// receiver and checks the answer, that nothing was stored for a refusal,
// and the reason it was counted under.
func TestSignatures(t *testing.T) {
	t.Parallel()
	body := event("ContactCreate", "wh-1", t0, map[string]any{"email": "a@example.com", "tags": []string{"x", "y"}})
	var generic map[string]any
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatal(err)
	}
	// The same JSON document, other bytes.
	reserialized, err := json.MarshalIndent(generic, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(reserialized, body) {
		t.Fatal("the re-serialized body has the same bytes")
	}
	sig := signEd(testKey, body)
	rawSig, _ := base64.StdEncoding.DecodeString(sig)
	flipped := append([]byte(nil), rawSig...)
	flipped[10] ^= 1
	lk := legacyKey(t)

	cases := []struct {
		name     string
		legacy   bool // configure the legacy RSA key
		body     []byte
		headers  map[string]string
		status   int
		reason   string // rejected counter label; "" for accepted
		storedID string // webhook id expected in the stream
	}{
		{name: "valid", body: body, headers: map[string]string{SignatureHeader: sig}, status: 200, storedID: "wh-1"},
		{name: "unsigned", body: body, status: 401, reason: ReasonMissingSignature},
		{name: "empty header", body: body, headers: map[string]string{SignatureHeader: ""}, status: 401, reason: ReasonMissingSignature},
		{name: "forged: flipped bit", body: body, headers: map[string]string{SignatureHeader: base64.StdEncoding.EncodeToString(flipped)}, status: 401, reason: ReasonBadSignature},
		{name: "forged: signature of another body", body: body, headers: map[string]string{SignatureHeader: signEd(testKey, event("ContactCreate", "wh-2", t0, nil))}, status: 401, reason: ReasonBadSignature},
		{name: "another key", body: body, headers: map[string]string{SignatureHeader: signEd(otherKey, body)}, status: 401, reason: ReasonBadSignature},
		{name: "re-serialized body", body: reserialized, headers: map[string]string{SignatureHeader: sig}, status: 401, reason: ReasonBadSignature},
		{name: "truncated body", body: body[:len(body)-1], headers: map[string]string{SignatureHeader: sig}, status: 401, reason: ReasonBadSignature},
		{name: "truncated signature", body: body, headers: map[string]string{SignatureHeader: base64.StdEncoding.EncodeToString(rawSig[:40])}, status: 401, reason: ReasonMalformedSignature},
		{name: "not base64", body: body, headers: map[string]string{SignatureHeader: "%%%not-base64%%%"}, status: 401, reason: ReasonMalformedSignature},
		{name: "legacy header without a legacy key", body: body, headers: map[string]string{LegacySignatureHeader: signRSA(t, lk, body)}, status: 401, reason: ReasonMissingSignature},
		{name: "legacy header with the legacy key", legacy: true, body: body, headers: map[string]string{LegacySignatureHeader: signRSA(t, lk, body)}, status: 200, storedID: "wh-1"},
		{name: "legacy signature of another body", legacy: true, body: body, headers: map[string]string{LegacySignatureHeader: signRSA(t, lk, reserialized)}, status: 401, reason: ReasonBadSignature},
		{name: "legacy key configured, unsigned", legacy: true, body: body, status: 401, reason: ReasonMissingSignature},
		{name: "bad Ed25519 is not rescued by a good legacy signature", legacy: true, body: body, headers: map[string]string{SignatureHeader: signEd(otherKey, body), LegacySignatureHeader: signRSA(t, lk, body)}, status: 401, reason: ReasonBadSignature},
		{name: "good Ed25519 beside a bad legacy signature", legacy: true, body: body, headers: map[string]string{SignatureHeader: sig, LegacySignatureHeader: "AAAA"}, status: 200, storedID: "wh-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var legacy *rsa.PublicKey
			if tc.legacy {
				legacy = &lk.PublicKey
			}
			f := newFixture(t, nil, nil, legacy, nil)
			resp := post(t, f.rv, tc.body, tc.headers)
			wantStatus(t, resp, tc.status)
			got := all(t, f.store)
			if tc.storedID == "" {
				if len(got) != 0 {
					t.Fatalf("refused request stored: %s", fmtIDs(got))
				}
				if n := testutil.ToFloat64(f.metrics.rejected.WithLabelValues(tc.reason)); n != 1 {
					t.Errorf("rejected{reason=%q} = %v, want 1", tc.reason, n)
				}
				if n := testutil.ToFloat64(f.metrics.stored); n != 0 {
					t.Errorf("stored = %v, want 0", n)
				}
				return
			}
			if len(got) != 1 || got[0].WebhookID != tc.storedID {
				t.Fatalf("stream = %s, want one event %s", fmtIDs(got), tc.storedID)
			}
			if !bytes.Equal(got[0].Body, tc.body) {
				t.Errorf("stored body differs from the bytes received:\n got %q\nwant %q", got[0].Body, tc.body)
			}
		})
	}
}

// A missing header never skips verification, whatever else the request
// carries.
func TestNoSignatureNeverPasses(t *testing.T) {
	t.Parallel()
	v := testVerifier(t, nil)
	h := http.Header{}
	h.Set("Authorization", "Bearer x")
	h.Set("X-Signature", signEd(testKey, []byte("{}")))
	err := v.Verify(h, []byte("{}"))
	var ve *VerifyError
	if err == nil || !errors.As(err, &ve) || ve.Reason != ReasonMissingSignature {
		t.Fatalf("Verify without the header = %v, want a %s VerifyError", err, ReasonMissingSignature)
	}
}
