package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

func TestCallerAuthMatrix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	demo, other := sandbox.DemoLocationID, sandbox.OtherLocationID

	read := func(ctx context.Context, loc string) error {
		_, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 1})
		return err
	}
	write := func(ctx context.Context, loc string) error {
		_, err := h.contacts.CreateContact(ctx, &hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{FirstName: "Auth"}})
		return err
	}
	admin := func(ctx context.Context, _ string) error {
		_, err := h.tokens.GetTokenStatus(ctx, &hlgatev1.GetTokenStatusRequest{SubjectId: demo})
		return err
	}

	for _, tc := range []struct {
		name string
		key  string
		call func(context.Context, string) error
		loc  string
		want codes.Code
	}{
		{"no key", "", read, demo, codes.Unauthenticated},
		{"unknown key", "not-a-key", read, demo, codes.Unauthenticated},
		{"reader reads its location", readKey, read, demo, codes.OK},
		{"reader may not write", readKey, write, demo, codes.PermissionDenied},
		{"reader may not read another location", readKey, read, other, codes.PermissionDenied},
		{"reader may not administer tokens", readKey, admin, demo, codes.PermissionDenied},
		{"writer writes its location", writeKey, write, demo, codes.OK},
		{"writer reads its location", writeKey, read, demo, codes.OK},
		{"writer may not write another location", writeKey, write, other, codes.PermissionDenied},
		{"writer may not administer tokens", writeKey, admin, demo, codes.PermissionDenied},
		{"admin administers tokens", adminKey, admin, demo, codes.OK},
		{"admin reads any location", adminKey, read, demo, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(h.ctx(tc.key), tc.loc)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestCallerAuthOverREST(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	path := "/v1/locations/" + sandbox.DemoLocationID + "/contacts:search"
	if code, _, body := h.rest(http.MethodPost, path, "", strings.NewReader(`{}`)); code != http.StatusUnauthorized {
		t.Fatalf("no key = %d %s, want 401", code, body)
	}
	if code, _, body := h.rest(http.MethodPost, path, readKey, strings.NewReader(`{"pageSize":1}`)); code != http.StatusOK {
		t.Fatalf("read key = %d %s, want 200", code, body)
	}
	if code, _, body := h.rest(http.MethodPost, "/v1/locations/"+sandbox.DemoLocationID+"/contacts", readKey, strings.NewReader(`{"firstName":"x"}`)); code != http.StatusForbidden {
		t.Fatalf("write with read key = %d %s, want 403", code, body)
	}
	// Health, metrics and the API document need no key.
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/metrics"} {
		if code, _, body := h.rest(http.MethodGet, p, "", nil); code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", p, code, body)
		}
	}
}

func TestKeysFileIsChecked(t *testing.T) {
	t.Parallel()
	good := CallerKey{Name: "a", SHA256: HashKey("k"), Locations: []string{"*"}, Access: "read"}
	for name, k := range map[string]CallerKey{
		"no name":      {SHA256: good.SHA256, Locations: good.Locations, Access: "read"},
		"bad hash":     {Name: "a", SHA256: "abc", Locations: good.Locations, Access: "read"},
		"bad access":   {Name: "a", SHA256: good.SHA256, Locations: good.Locations, Access: "root"},
		"no locations": {Name: "a", SHA256: good.SHA256, Access: "read"},
	} {
		if _, err := NewKeys([]CallerKey{k}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewKeys([]CallerKey{good}); err != nil {
		t.Fatalf("good key refused: %v", err)
	}
}
