package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// badRequestFields returns the fields a status's BadRequest names.
func badRequestFields(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// A REST body above the bound is refused with 413 before the gateway decodes
// it, whether or not it declares its length; a caller without a valid key is
// refused before its body is read at all.
func TestRESTBodiesAreBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys(), noInstall: true})
	path := h.httpURL + "/v1/locations/" + sandbox.DemoLocationID + "/contacts"
	big := bytes.Repeat([]byte(" "), DefaultMaxBodyBytes+1)
	for _, tc := range []struct {
		name    string
		key     string
		chunked bool
		want    int
	}{
		{"no key, declared length", "", false, http.StatusUnauthorized},
		{"unknown key", "nope", true, http.StatusUnauthorized},
		{"valid key, declared length", writeKey, false, http.StatusRequestEntityTooLarge},
		{"valid key, chunked", writeKey, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(big)
			if tc.chunked {
				body = io.MultiReader(bytes.NewReader(big)) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d %.200s, want %d", resp.StatusCode, b, tc.want)
			}
			if !bytes.Contains(b, []byte(`"reason":`)) {
				t.Errorf("answer carries no ErrorInfo: %.200s", b)
			}
		})
	}
	// Just under the bound is decoded (and refused for what it says, not for
	// its size).
	ok := append([]byte(`{"firstName":"x"}`), bytes.Repeat([]byte(" "), DefaultMaxBodyBytes-64)...)
	if code, _, b := h.rest(http.MethodPost, "/v1/locations/"+sandbox.DemoLocationID+"/contacts", writeKey, bytes.NewReader(ok)); code == http.StatusRequestEntityTooLarge || code >= 500 {
		t.Fatalf("a body under the bound: %d %.200s", code, b)
	}
}

// Deeply nested custom field values are the caller's fault: 400 over REST
// and INVALID_ARGUMENT over gRPC, naming the field, never a 5xx.
func TestDeepNestingIsInvalidArgument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	body := `{"firstName":"x","customFields":[{"id":"abc","value":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}]}`
	code, _, b := h.rest(http.MethodPost, "/v1/locations/"+sandbox.DemoLocationID+"/contacts", "", strings.NewReader(body))
	if code != http.StatusBadRequest || !bytes.Contains(b, []byte(`customFields[0].value`)) {
		t.Fatalf("9,000 nested arrays over REST: %d %.300s, want 400 naming customFields[0].value", code, b)
	}

	v := structpb.NewStringValue("leaf")
	for range 200 {
		v = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{v}})
	}
	_, err := h.contacts.CreateContact(h.ctx(""), &hlgatev1.CreateContactRequest{LocationId: sandbox.DemoLocationID,
		Contact: &hlgatev1.Contact{FirstName: "x", CustomFields: []*hlgatev1.CustomField{{Id: "abc", Value: v}}}})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || len(badRequestFields(st)) != 1 || !strings.HasPrefix(badRequestFields(st)[0], "contact.custom_fields[0].value") {
		t.Fatalf("200 nested lists over gRPC: %v %v, want INVALID_ARGUMENT naming contact.custom_fields[0].value", err, badRequestFields(st))
	}

	// Nesting within the bound goes through.
	v = structpb.NewStringValue("leaf")
	for range 10 {
		v = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"k": v}})
	}
	if d, deep := messageTooDeep(&hlgatev1.CreateContactRequest{Contact: &hlgatev1.Contact{CustomFields: []*hlgatev1.CustomField{{Value: v}}}}, maxNesting); deep {
		t.Fatalf("10 nested objects refused at %s", d)
	}
	if _, deep := jsonTooDeep([]byte(`{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]"}`), maxNesting); deep {
		t.Fatal("brackets inside a string counted as nesting")
	}
}

// Tag lists far beyond real use are refused before anything is sent, naming
// the field; an oversized contact is refused as INVALID_ARGUMENT too.
func TestHugeRequestsAreInvalidArgument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	id := firstContactID(t, h)
	tags := make([]string, 300000)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%d", i)
	}
	before := h.hits.total("")
	_, err := h.contacts.AddContactTags(h.ctx(""), &hlgatev1.AddContactTagsRequest{LocationId: sandbox.DemoLocationID, ContactId: id, Tags: tags})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || fmt.Sprint(badRequestFields(st)) != "[tags]" {
		t.Fatalf("AddContactTags with 300,000 tags: %v %v, want INVALID_ARGUMENT naming tags", err, badRequestFields(st))
	}
	if got := h.hits.total("") - before; got != 0 {
		t.Fatalf("%d requests reached the sandbox", got)
	}
	_, err = h.contacts.CreateContact(h.ctx(""), &hlgatev1.CreateContactRequest{LocationId: sandbox.DemoLocationID,
		Contact: &hlgatev1.Contact{FirstName: "x", Tags: tags[:150000]}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateContact with a 2 MB body: %v, want INVALID_ARGUMENT", err)
	}
}

// A client that trickles its body, or keeps an idle connection, is cut off
// by the HTTP server's timeouts instead of holding the connection.
func TestHTTPServerCutsSlowAndIdleClients(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, noInstall: true})
	lim := HTTPLimits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: time.Second, IdleTimeout: 300 * time.Millisecond}
	srv, err := New(Config{Upstream: h.srv.hl, Tokens: h.mgr, HTTP: lim})
	if err != nil {
		t.Fatal(err)
	}
	hts := httptest.NewUnstartedServer(nil)
	hts.Config = srv.HTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	}), nil)
	hts.Start()
	t.Cleanup(hts.Close)
	if hts.Config.MaxHeaderBytes != DefaultHTTPLimits.MaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d", hts.Config.MaxHeaderBytes)
	}

	// Trickle: declare 100 bytes, send one every 100 ms. Sending all of them
	// would take 10 s; the server must close the connection long before.
	conn, err := net.Dial("tcp", hts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		close(closed)
	}()
	sent := 0
trickle:
	for ; sent < 100; sent++ {
		select {
		case <-closed:
			break trickle
		case <-time.After(100 * time.Millisecond):
			if _, err := conn.Write([]byte("x")); err != nil {
				break trickle
			}
		}
	}
	if sent == 100 {
		t.Fatal("the server read a trickled body to the end")
	}

	// Idle keep-alive: after one answered request, the connection is
	// closed by the server.
	idle, err := net.Dial("tcp", hts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := fmt.Fprintf(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: read %v, want EOF (closed by the server)", err)
	}

}
