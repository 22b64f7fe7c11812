package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// The gateway's unary calls are served in process (GatewayConn): they keep
// answering after the gRPC port has stopped, and still pass the one
// interceptor: it refuses a location the caller's key may not use, and
// counts every call, refused or not, by method and code. (A missing or
// unknown key is refused before the gateway, by boundRequests.)
func TestGatewayServesUnaryCallsInProcess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	loc := sandbox.DemoLocationID
	page, err := h.contacts.SearchContacts(h.ctx(readKey), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 1})
	if err != nil || len(page.GetContacts()) != 1 {
		t.Fatalf("find a contact: %v", err)
	}
	id := page.GetContacts()[0].GetId()
	path := "/v1/locations/" + loc + "/contacts/" + id
	const method = "/hlgate.v1.ContactsService/GetContact"
	count := func(code codes.Code) float64 {
		return testutil.ToFloat64(h.srv.metrics.rpcs.WithLabelValues(method, code.String()))
	}
	okBefore, deniedBefore := count(codes.OK), count(codes.PermissionDenied)

	h.grpc.Stop()
	if _, err := h.contacts.GetContact(h.ctx(readKey), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id}); err == nil {
		t.Fatal("the gRPC port still answers after Stop; the test would prove nothing")
	}

	code, _, body := h.rest(http.MethodGet, path, readKey, nil)
	if code != http.StatusOK || !strings.Contains(string(body), id) {
		t.Fatalf("REST GetContact with the gRPC port stopped: %d %s", code, body)
	}
	if code, _, body := h.rest(http.MethodGet, path, "", nil); code != http.StatusUnauthorized {
		t.Fatalf("REST GetContact without a key: %d %s, want 401", code, body)
	}
	if code, _, body := h.rest(http.MethodGet, path, "not-a-key", nil); code != http.StatusUnauthorized {
		t.Fatalf("REST GetContact with an unknown key: %d %s, want 401", code, body)
	}
	if code, _, body := h.rest(http.MethodGet, "/v1/locations/"+sandbox.OtherLocationID+"/contacts/"+id, readKey, nil); code != http.StatusForbidden {
		t.Fatalf("REST GetContact of a location the key may not use: %d %s, want 403", code, body)
	}
	if got := count(codes.OK) - okBefore; got != 1 {
		t.Errorf("%v OK calls counted, want 1", got)
	}
	if got := count(codes.PermissionDenied) - deniedBefore; got != 1 {
		t.Errorf("%v PermissionDenied calls counted, want 1", got)
	}
}

// An in-process call keeps the gRPC server's message bound: an answer
// larger than MaxMessageBytes is refused with RESOURCE_EXHAUSTED over REST
// as it is over gRPC, and a smaller one passes.
func TestGatewayInProcessKeepsTheMessageBound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, maxMessageBytes: 4000})
	loc := sandbox.DemoLocationID
	_, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 50})
	wantStatus(t, err, codes.ResourceExhausted, "")
	code, _, body := h.rest(http.MethodPost, "/v1/locations/"+loc+"/contacts:search", "", strings.NewReader(`{"pageSize":50}`))
	if code != http.StatusTooManyRequests || !strings.Contains(string(body), "larger than max") {
		t.Fatalf("REST search of an answer over the bound: %d %s, want 429 (RESOURCE_EXHAUSTED)", code, body)
	}
	if _, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 1}); err != nil {
		t.Fatalf("gRPC search of one contact: %v", err)
	}
	if code, _, body := h.rest(http.MethodPost, "/v1/locations/"+loc+"/contacts:search", "", strings.NewReader(`{"pageSize":1}`)); code != http.StatusOK {
		t.Fatalf("REST search of one contact: %d %s", code, body)
	}
}

// The handler's answer is handed to the gateway's empty reply, not copied;
// a reply that already holds something is merged into, as before.
func TestMoveHandsOverTheAnswer(t *testing.T) {
	t.Parallel()
	src := &hlgatev1.GetContactResponse{Contact: &hlgatev1.Contact{Id: "c1", Tags: []string{"a"}}}
	want := proto.Clone(src)
	var dst hlgatev1.GetContactResponse
	move(&dst, src)
	if !proto.Equal(&dst, want) {
		t.Errorf("moved %v, want %v", &dst, want)
	}
	if dst.Contact != src.Contact {
		t.Error("the contact was copied, not handed over")
	}
	held := &hlgatev1.GetContactResponse{Contact: &hlgatev1.Contact{Tags: []string{"x"}}}
	move(held, &hlgatev1.GetContactResponse{Contact: &hlgatev1.Contact{Id: "c2", Tags: []string{"y"}}})
	if got := held.GetContact(); got.GetId() != "c2" || !slices.Equal(got.GetTags(), []string{"x", "y"}) {
		t.Errorf("a reply that held something became %v, want it merged", held)
	}
}
