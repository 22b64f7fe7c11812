package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// Page tokens come from callers: any string must decode to a cursor that
// this server sealed for the same request, or fail with INVALID_ARGUMENT —
// never panic, never pass garbage on.
func FuzzPageTokenOpen(f *testing.F) {
	pt, err := newPageTokens([]byte("fuzz key"))
	if err != nil {
		f.Fatal(err)
	}
	req := &hlgatev1.SearchContactsRequest{LocationId: "loc1", Query: "ada"}
	good, err := pt.seal(hlgatev1.ContactsService_SearchContacts_FullMethodName, req, contactsCursor{Page: 2, Seen: 10})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "x", "%%%", good[:len(good)/2], good + "A", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		var cur contactsCursor
		err := pt.open(hlgatev1.ContactsService_SearchContacts_FullMethodName, token, req, &cur)
		if err == nil {
			// AES-GCM authenticates: only a token sealed with this key opens,
			// and every such token here holds the cursor sealed above.
			if cur.Page != 2 || cur.Seen != 10 || len(cur.SearchAfter) != 0 {
				t.Fatalf("token %q opened to a cursor never sealed: %+v", token, cur)
			}
			return
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("token %q: %v, want INVALID_ARGUMENT", token, err)
		}
	})
}

// The gateway's JSON bodies come from callers: any body gets an answer —
// a 4xx for what cannot be parsed or is invalid — never a panic or a 5xx.
func FuzzGatewayJSONBodies(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"firstName":"A"}`, `{"email":"x"}`, `[]`, `null`, `{"customFields":[{"value":{"a":[1,{"b":null}]}}]}`,
		`{"tags":[""]}`, `{"firstName":1}`, `{"dndSettings":{"email":{"status":"DND_STATUS_ACTIVE"}}}`, `{`, "\x00", `{"unknown":true}`,
		// 9,000 nested arrays in a custom field value once answered 500.
		`{"firstName":"x","customFields":[{"id":"abc","value":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}]}`,
		// 300,000 tags once answered INTERNAL (the upstream body bound).
		`{"firstName":"x","tags":["` + strings.Repeat(`t","`, 300000) + `t"]}`,
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	h := newHarness(f, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	base := "/v1/locations/" + sandbox.DemoLocationID + "/contacts"
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		path := base
		switch which % 3 {
		case 1:
			path = base + ":search"
		case 2:
			path = base + ":upsert"
		}
		req, err := http.NewRequest(http.MethodPost, h.httpURL+path, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("POST %s with %q = %d", path, body, resp.StatusCode)
		}
	})
}
