package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Access is what a caller's key allows; each level includes the ones below.
type Access int

// Access levels of caller keys.
const (
	AccessRead  Access = iota + 1 // Get, List and Search RPCs
	AccessWrite                   // plus creates, updates and deletes
	AccessAdmin                   // plus TokensService
)

func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessAdmin:
		return "admin"
	}
	return "none"
}

// CallerKey is one entry of the keys file. Only the SHA-256 of a key is
// stored, so the file is not a secret worth stealing.
type CallerKey struct {
	// Name identifies the caller in logs.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the key the caller presents.
	SHA256 string `json:"sha256"`
	// Locations the caller may use; "*" allows every location.
	Locations []string `json:"locations"`
	// Access is "read", "write" or "admin".
	Access string `json:"access"`

	hash   [sha256.Size]byte
	access Access
	all    bool
	allow  map[string]bool
}

// KeysFile is the format of HLGATE_API_KEYS_FILE:
//
//	{"keys": [{"name": "crm-sync", "sha256": "<hex sha-256 of the key>",
//	           "locations": ["*"], "access": "write"}]}
type KeysFile struct {
	Keys []CallerKey `json:"keys"`
}

// Keys authenticates callers.
type Keys struct {
	keys []CallerKey
	// lookups counts the hashes computed (lookup), for tests.
	lookups atomic.Int64
}

// LoadKeys reads and checks a keys file.
func LoadKeys(path string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keys file: %w", err)
	}
	// A misspelled field ("location" for "locations") must not leave a key
	// with defaults nobody meant, so unknown fields are refused.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f KeysFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("keys file %s: more than one JSON value", path)
	}
	k, err := NewKeys(f.Keys)
	if err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return k, nil
}

// NewKeys checks keys and prepares them for lookups.
func NewKeys(keys []CallerKey) (*Keys, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys file lists no keys")
	}
	out := make([]CallerKey, len(keys))
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]string{}
	for i, k := range keys {
		if k.Name == "" {
			return nil, fmt.Errorf("key %d: name is required", i)
		}
		if j, dup := names[k.Name]; dup {
			return nil, fmt.Errorf("key %d: name %q is already used by key %d; names identify callers in logs", i, k.Name, j)
		}
		names[k.Name] = i
		h, err := hex.DecodeString(k.SHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("key %q: sha256 must be 64 hex characters", k.Name)
		}
		copy(k.hash[:], h)
		// Two entries for one key would make its rights depend on their
		// order (a "*" admin entry shadowing a read entry), so a hash may
		// appear once.
		if other, dup := hashes[k.hash]; dup {
			return nil, fmt.Errorf("key %q: the same sha256 as key %q; list each key once", k.Name, other)
		}
		hashes[k.hash] = k.Name
		switch k.Access {
		case "read":
			k.access = AccessRead
		case "write":
			k.access = AccessWrite
		case "admin":
			k.access = AccessAdmin
		default:
			return nil, fmt.Errorf("key %q: access must be read, write or admin, not %q", k.Name, k.Access)
		}
		if len(k.Locations) == 0 {
			return nil, fmt.Errorf("key %q: locations is required (use [\"*\"] for all)", k.Name)
		}
		k.allow = map[string]bool{}
		for _, l := range k.Locations {
			if strings.TrimSpace(l) == "" {
				return nil, fmt.Errorf("key %q: locations has an empty entry", k.Name)
			}
			if l != strings.TrimSpace(l) {
				return nil, fmt.Errorf("key %q: location %q has spaces around it", k.Name, l)
			}
			if l == "*" {
				k.all = true
			}
			k.allow[l] = true
		}
		out[i] = k
	}
	return &Keys{keys: out}, nil
}

// HashKey returns the hex SHA-256 of a key, the form the keys file stores.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// lookup finds the key presented. It compares against every stored hash in
// constant time, so timing reveals neither which key matched nor how much of
// it.
func (k *Keys) lookup(presented string) *CallerKey {
	k.lookups.Add(1)
	h := sha256.Sum256([]byte(presented))
	var found *CallerKey
	for i := range k.keys {
		if subtle.ConstantTimeCompare(h[:], k.keys[i].hash[:]) == 1 {
			found = &k.keys[i]
		}
	}
	return found
}

// authorize checks the caller of an RPC against its declared rule: the key
// must be known, have the access level the request needs (rule.needs), and
// allow every location or company the request names (see rule.check and
// rule.checkAlso). req and named are nil at the start of a stream; its
// messages are checked by the stream wrapper before the handler sees them.
func (k *Keys) authorize(ctx context.Context, r *rule, req proto.Message, named *subjects) (*CallerKey, error) {
	if r.public {
		return nil, nil
	}
	key, err := k.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if need := r.needs(req); key.access < need {
		return nil, statusError(codes.PermissionDenied, fmt.Sprintf("key %q has %s access; this call needs %s", key.Name, key.access, need), ReasonPermissionDenied)
	}
	if named == nil {
		return key, nil
	}
	if err := r.check(key, *named); err != nil {
		return key, err
	}
	return key, r.checkAlso(key, req)
}

// authenticate finds the caller's key.
func (k *Keys) authenticate(ctx context.Context) (*CallerKey, error) {
	presented := bearer(ctx)
	if presented == "" {
		return nil, statusError(codes.Unauthenticated, "missing caller key: send \"authorization: Bearer <key>\"", ReasonUnauthenticated)
	}
	if a, ok := ctx.Value(authenticatedKey{}).(authenticated); ok && a.presented == presented {
		return a.key, nil // the REST gateway found it already (boundRequests)
	}
	key := k.lookup(presented)
	if key == nil {
		return nil, statusError(codes.Unauthenticated, "unknown caller key", ReasonUnauthenticated)
	}
	return key, nil
}

// authenticatedKey is the context key of the caller key boundRequests
// found for a REST call, which the gateway's in-process call carries to the
// interceptor, so that the key is hashed and compared once per call.
type authenticatedKey struct{}

// authenticated is the key presented and the caller key it is.
type authenticated struct {
	presented string
	key       *CallerKey
}

// bearer returns the key from "authorization: Bearer <key>" metadata (the
// gateway forwards the HTTP header as the same metadata).
func bearer(ctx context.Context) string {
	// Only this key's values are copied, not the whole metadata.
	return bearerValue(metadata.ValueFromIncomingContext(ctx, "authorization"))
}

// bearerValue returns the key of the first "Bearer <key>" value.
func bearerValue(values []string) string {
	for _, v := range values {
		if scheme, key, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(key)
		}
	}
	return ""
}
