package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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
}

// LoadKeys reads and checks a keys file.
func LoadKeys(path string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keys file: %w", err)
	}
	var f KeysFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return NewKeys(f.Keys)
}

// NewKeys checks keys and prepares them for lookups.
func NewKeys(keys []CallerKey) (*Keys, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys file lists no keys")
	}
	out := make([]CallerKey, len(keys))
	for i, k := range keys {
		if k.Name == "" {
			return nil, fmt.Errorf("key %d: name is required", i)
		}
		h, err := hex.DecodeString(k.SHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("key %q: sha256 must be 64 hex characters", k.Name)
		}
		copy(k.hash[:], h)
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
	h := sha256.Sum256([]byte(presented))
	var found *CallerKey
	for i := range k.keys {
		if subtle.ConstantTimeCompare(h[:], k.keys[i].hash[:]) == 1 {
			found = &k.keys[i]
		}
	}
	return found
}

// authorize checks the caller of an RPC. method is the full gRPC method name;
// location the request's location_id (or subject_id, see locationOf), checked
// against the key's locations.
func (k *Keys) authorize(ctx context.Context, method, location string) (*CallerKey, error) {
	presented := bearer(ctx)
	if presented == "" {
		return nil, statusError(codes.Unauthenticated, "missing caller key: send \"authorization: Bearer <key>\"", ReasonUnauthenticated)
	}
	key := k.lookup(presented)
	if key == nil {
		return nil, statusError(codes.Unauthenticated, "unknown caller key", ReasonUnauthenticated)
	}
	need := accessFor(method)
	if key.access < need {
		return nil, statusError(codes.PermissionDenied, fmt.Sprintf("key %q has %s access; this call needs %s", key.Name, key.access, need), ReasonPermissionDenied)
	}
	if !key.all {
		if location != "" && !key.allow[location] {
			return nil, statusError(codes.PermissionDenied, fmt.Sprintf("key %q may not use location %s", key.Name, location), ReasonPermissionDenied)
		}
	}
	return key, nil
}

// accessFor classifies an RPC: TokensService is admin; Get, List and Search
// read; everything else writes.
func accessFor(method string) Access {
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if strings.HasSuffix(svc, ".TokensService") {
		return AccessAdmin
	}
	for _, p := range []string{"Get", "List", "Search"} {
		if strings.HasPrefix(name, p) {
			return AccessRead
		}
	}
	return AccessWrite
}

// locationOf reads the location a request is about: its location_id, or for
// token administration its subject_id.
func locationOf(req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	for _, name := range []protoreflect.Name{"location_id", "subject_id"} {
		if fd := r.Descriptor().Fields().ByName(name); fd != nil && fd.Kind() == protoreflect.StringKind {
			if v := r.Get(fd).String(); v != "" {
				return v
			}
		}
	}
	return ""
}

// bearer returns the key from "authorization: Bearer <key>" metadata (the
// gateway forwards the HTTP header as the same metadata).
func bearer(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if scheme, key, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(key)
		}
	}
	return ""
}
