package tokenstore

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	k1 := base64.StdEncoding.EncodeToString(testKey(t, 1))
	k2 := base64.StdEncoding.EncodeToString(testKey(t, 2))
	short := base64.StdEncoding.EncodeToString([]byte("too short"))
	tests := []struct {
		name, cur, old string
		wantErr        string // substring; empty means success
		wantKeys       int
	}{
		{name: "current only", cur: k1, wantKeys: 1},
		{name: "with old keys", cur: k1, old: k2 + ", " + k1 + ",", wantKeys: 2},
		{name: "empty current", cur: "", wantErr: "HLGATE_TOKEN_KEY: empty"},
		{name: "not base64", cur: "!!!", wantErr: "HLGATE_TOKEN_KEY: not valid base64"},
		{name: "short current", cur: short, wantErr: "HLGATE_TOKEN_KEY: decodes to 9 bytes"},
		{name: "bad old", cur: k1, old: k2 + "," + short, wantErr: "HLGATE_TOKEN_OLD_KEYS entry 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr, err := ParseKeys(tt.cur, tt.old)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeys error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), k2) {
					t.Fatalf("error reveals a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeys: %v", err)
			}
			if len(kr.aeads) != tt.wantKeys {
				t.Fatalf("keyring has %d keys, want %d", len(kr.aeads), tt.wantKeys)
			}
			if kr.CurrentKeyID() != KeyID(testKey(t, 1)) {
				t.Fatalf("current key id %s, want the id of HLGATE_TOKEN_KEY", kr.CurrentKeyID())
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring(testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKeyring(testKey(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte(`{"access_token":"secret"}`)
	ad := []byte(RecordKey("loc1"))
	kid, sealed, err := kr.Seal(pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	_, sealed2, _ := kr.Seal(pt, ad)
	if bytes.Equal(sealed, sealed2) {
		t.Fatal("two seals of one plaintext are equal: nonce is not random")
	}
	got, err := kr.Open(kid, sealed, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	cases := map[string]func() ([]byte, error){
		"tampered":    func() ([]byte, error) { return kr.Open(kid, flipped, ad) },
		"wrong ad":    func() ([]byte, error) { return kr.Open(kid, sealed, []byte(RecordKey("loc2"))) },
		"unknown kid": func() ([]byte, error) { return other.Open(kid, sealed, ad) },
		"truncated":   func() ([]byte, error) { return kr.Open(kid, sealed[:10], ad) },
	}
	for name, open := range cases {
		if b, err := open(); !errors.Is(err, ErrDecrypt) || b != nil {
			t.Errorf("%s: Open = %q, %v; want nil, ErrDecrypt", name, b, err)
		}
	}
}

func TestRecordStringHidesSecrets(t *testing.T) {
	t.Parallel()
	r := Record{Subject: "loc", AccessToken: "at-secret-123456", RefreshToken: "rt-secret-123456"}
	for _, s := range []string{r.String(), r.GoString(), r.token().String()} {
		if strings.Contains(s, "secret") {
			t.Fatalf("%q shows a token", s)
		}
	}
}
