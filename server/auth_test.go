package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/openapi.yaml", "/metrics"} {
		if code, _, body := h.rest(http.MethodGet, p, "", nil); code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", p, code, body)
		}
	}
}

func TestKeysFileIsChecked(t *testing.T) {
	t.Parallel()
	good := CallerKey{Name: "a", SHA256: HashKey("k"), Locations: []string{"*"}, Access: "read"}
	for name, k := range map[string]CallerKey{
		"no name":         {SHA256: good.SHA256, Locations: good.Locations, Access: "read"},
		"bad hash":        {Name: "a", SHA256: "abc", Locations: good.Locations, Access: "read"},
		"bad access":      {Name: "a", SHA256: good.SHA256, Locations: good.Locations, Access: "root"},
		"no locations":    {Name: "a", SHA256: good.SHA256, Access: "read"},
		"empty location":  {Name: "a", SHA256: good.SHA256, Locations: []string{"loc1", ""}, Access: "read"},
		"padded location": {Name: "a", SHA256: good.SHA256, Locations: []string{" loc1"}, Access: "read"},
	} {
		if _, err := NewKeys([]CallerKey{k}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewKeys([]CallerKey{good}); err != nil {
		t.Fatalf("good key refused: %v", err)
	}

	// Whole files: each refusal names the entry at fault.
	other := HashKey("other")
	for name, tc := range map[string]struct{ file, mention string }{
		"duplicate hash: a \"*\" admin entry would shadow a read entry": {
			`{"keys":[{"name":"reports","sha256":"` + good.SHA256 + `","locations":["loc1"],"access":"read"},
			          {"name":"ops","sha256":"` + good.SHA256 + `","locations":["*"],"access":"admin"}]}`, `"ops"`},
		"duplicate name": {
			`{"keys":[{"name":"a","sha256":"` + good.SHA256 + `","locations":["*"],"access":"read"},
			          {"name":"a","sha256":"` + other + `","locations":["*"],"access":"read"}]}`, `"a"`},
		"unknown field in an entry": {
			`{"keys":[{"name":"a","sha256":"` + good.SHA256 + `","location":["loc1"],"locations":["*"],"access":"read"}]}`, `"location"`},
		"unknown top-level field": {
			`{"keys":[{"name":"a","sha256":"` + good.SHA256 + `","locations":["*"],"access":"read"}],"key":[]}`, `"key"`},
		"empty location": {
			`{"keys":[{"name":"reports","sha256":"` + good.SHA256 + `","locations":[""],"access":"read"}]}`, `"reports"`},
	} {
		path := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeys(path)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: error %q does not name %s", name, err, tc.mention)
		}
	}
}

// Every method the gRPC server registers has exactly one declared rule, and
// every rule belongs to a registered method: the interceptor refuses a
// method without one, so a new RPC cannot be served unchecked by accident.
func TestEveryMethodHasARule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys(), noInstall: true})
	registered := map[string]bool{}
	for svc, info := range h.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			registered["/"+svc+"/"+m.Name] = true
		}
	}
	for m := range registered {
		r := methodRules[m]
		if r == nil {
			t.Errorf("%s is registered but declares no rule", m)
			continue
		}
		if !r.public && r.access == 0 {
			t.Errorf("%s: rule has no access level", m)
		}
		if !r.public && !r.global && len(r.paths) == 0 && !r.unnamedNeedsAll && !r.keyScoped {
			t.Errorf("%s: rule names no location field and is neither public, global nor key-scoped", m)
		}
	}
	for m := range methodRules {
		if !registered[m] {
			t.Errorf("rule for %s, which the server does not register", m)
		}
	}
}

// The rules' field paths are checked against the request messages at start.
func TestRulesNameRealFields(t *testing.T) {
	t.Parallel()
	for _, bad := range []map[string]*rule{
		{hlgatev1.ContactsService_GetContact_FullMethodName: {access: AccessRead, subjects: []string{"locationId"}}},
		{hlgatev1.ContactsService_GetContact_FullMethodName: {access: AccessRead, subjects: []string{"location_id.x"}}},
		{hlgatev1.TokensService_ImportToken_FullMethodName: {access: AccessAdmin, subjects: []string{"private_integration_token"}}},
		{"/hlgate.v1.ContactsService/NoSuchMethod": {access: AccessRead, subjects: []string{"location_id"}}},
	} {
		if err := compileRules(bad); err == nil {
			t.Errorf("compileRules(%v) accepted a rule that names no string field", bad)
		}
	}
}

// A method without a declaration is refused before its handler runs, on
// unary and streaming calls, with auth on and with auth off.
func TestUndeclaredMethodIsRefused(t *testing.T) {
	t.Parallel()
	for _, keys := range [][]CallerKey{nil, testKeys()} {
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: keys, noInstall: true})
		ran := false
		incoming := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+adminKey))
		_, err := h.srv.unaryInterceptor(incoming, &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID},
			&grpc.UnaryServerInfo{FullMethod: "/hlgate.v1.ContactsService/Undeclared"},
			func(context.Context, any) (any, error) { ran = true; return nil, nil })
		if status.Code(err) != codes.PermissionDenied || ran {
			t.Errorf("keys %v: undeclared unary method: %v (handler ran: %v), want PERMISSION_DENIED before the handler", keys != nil, err, ran)
		}
		const undeclared = "/hlgate.v1.EventsService/Undeclared"
		stream := func() error {
			return h.srv.streamInterceptor(nil, &fakeStream{ctx: incoming},
				&grpc.StreamServerInfo{FullMethod: undeclared},
				func(any, grpc.ServerStream) error { ran = true; return nil })
		}
		// A method the server does not have is UNIMPLEMENTED.
		if err := stream(); status.Code(err) != codes.Unimplemented || ran {
			t.Errorf("keys %v: unknown stream method: %v (handler ran: %v), want UNIMPLEMENTED before the handler", keys != nil, err, ran)
		}
		// One it has, registered without a rule, is refused.
		served := map[string]bool{undeclared: true}
		h.srv.servedMethods.Store(&served)
		if err := stream(); status.Code(err) != codes.PermissionDenied || ran {
			t.Errorf("keys %v: undeclared stream method: %v (handler ran: %v), want PERMISSION_DENIED before the handler", keys != nil, err, ran)
		}
	}
}

// fakeStream is a grpc.ServerStream with only a context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context { return f.ctx }

// Load balancers and Kubernetes probes have no caller key: gRPC health
// answers them, and reports NOT_SERVING after Shutdown so a drain is
// visible. Reflection needs a key.
func TestHealthNeedsNoKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys(), noInstall: true})
	hc := healthpb.NewHealthClient(h.conn)
	resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without a key: %v %v, want SERVING", resp, err)
	}
	rc := reflectionpb.NewServerReflectionClient(h.conn)
	stream, err := rc.ServerReflectionInfo(context.Background())
	if err == nil {
		// Send may see io.EOF when the server has already refused the
		// stream; the refusal itself is what Recv returns.
		err = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		if err == nil || errors.Is(err, io.EOF) {
			_, err = stream.Recv()
		}
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("reflection without a key: %v, want UNAUTHENTICATED", err)
	}
	stream, err = rc.ServerReflectionInfo(h.ctx(readKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("reflection with a read key: %v", err)
	}
	h.srv.Shutdown()
	resp, err = hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after Shutdown: %v %v, want NOT_SERVING", resp, err)
	}
}

// A location-scoped admin key administers its own location's token and
// nothing else: every location or company a token request names is checked
// before anything is stored, and a request that names none is refused.
func TestTokenAdminIsLimitedToItsLocations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	demo, other, company := sandbox.DemoLocationID, sandbox.OtherLocationID, sandbox.DemoCompanyID
	ctx := h.ctx(demoAdminKey)
	pit := func(loc string) *hlgatev1.ImportTokenRequest {
		return &hlgatev1.ImportTokenRequest{Token: &hlgatev1.ImportTokenRequest_PrivateIntegrationToken{
			PrivateIntegrationToken: &hlgatev1.PrivateIntegrationToken{LocationId: loc, Token: "pit-00000000-0000-0000-0000-000000000000"}}}
	}
	pair := func(subject, company string) *hlgatev1.ImportTokenRequest {
		return &hlgatev1.ImportTokenRequest{Token: &hlgatev1.ImportTokenRequest_OauthToken{OauthToken: &hlgatev1.OAuthToken{
			SubjectId: subject, SubjectKind: hlgatev1.SubjectKind_SUBJECT_KIND_LOCATION, CompanyId: company,
			AccessToken: "a", RefreshToken: "r", ExpireTime: timestamppb.New(time.Unix(4102444800, 0))}}}
	}
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"PIT for another location", func() error { _, err := h.tokens.ImportToken(ctx, pit(other)); return err }, codes.PermissionDenied},
		{"pair for another location", func() error { _, err := h.tokens.ImportToken(ctx, pair(other, "")); return err }, codes.PermissionDenied},
		{"pair naming a company the key does not list", func() error { _, err := h.tokens.ImportToken(ctx, pair(demo, company)); return err }, codes.PermissionDenied},
		{"import naming no location", func() error { _, err := h.tokens.ImportToken(ctx, pit("")); return err }, codes.InvalidArgument},
		{"status of another location", func() error {
			_, err := h.tokens.GetTokenStatus(ctx, &hlgatev1.GetTokenStatusRequest{SubjectId: other})
			return err
		}, codes.PermissionDenied},
		{"delete another location", func() error {
			_, err := h.tokens.DeleteToken(ctx, &hlgatev1.DeleteTokenRequest{SubjectId: other})
			return err
		}, codes.PermissionDenied},
		{"mint from a company the key does not list", func() error {
			_, err := h.tokens.MintLocationToken(ctx, &hlgatev1.MintLocationTokenRequest{CompanyId: company, LocationId: demo})
			return err
		}, codes.PermissionDenied},
		{"exchange a code without naming its location", func() error {
			_, err := h.tokens.ExchangeCode(ctx, &hlgatev1.ExchangeCodeRequest{Code: "some-code"})
			return err
		}, codes.PermissionDenied},
		{"exchange a code naming another location", func() error {
			_, err := h.tokens.ExchangeCode(ctx, &hlgatev1.ExchangeCodeRequest{Code: "some-code", SubjectId: other})
			return err
		}, codes.PermissionDenied},
		{"exchange its own location's code that HighLevel issued for another", func() error {
			code, err := h.sb.MintCode(sandbox.CodeRequest{LocationID: other})
			if err != nil {
				return err
			}
			_, err = h.tokens.ExchangeCode(ctx, &hlgatev1.ExchangeCodeRequest{Code: code, SubjectId: demo})
			return err
		}, codes.PermissionDenied},
		{"confirm another location's install", func() error {
			_, err := h.tokens.ConfirmInstall(ctx, &hlgatev1.ConfirmInstallRequest{SubjectId: other})
			return err
		}, codes.PermissionDenied},
		{"status of its own location", func() error {
			_, err := h.tokens.GetTokenStatus(ctx, &hlgatev1.GetTokenStatusRequest{SubjectId: demo})
			return err
		}, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(tc.call()); got != tc.want {
				t.Fatalf("code = %s, want %s", got, tc.want)
			}
		})
	}
	// Nothing was stored for the other location.
	if _, err := h.mgr.Status(context.Background(), other); err == nil {
		t.Fatalf("a token was stored for %s by a key limited to %s", other, demo)
	}
	// The "*" admin may import for any location.
	if _, err := h.tokens.ImportToken(h.ctx(adminKey), pit(other)); err != nil {
		t.Fatalf("admin import: %v", err)
	}
}

// TestCallerKeyHashedOncePerCall: a REST call's key is looked up (hashed
// and compared with every stored hash) once, by the gateway's guard, and
// the interceptor takes that result; a gRPC call's once, by the
// interceptor. A key the guard refused never reaches the RPC.
func TestCallerKeyHashedOncePerCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	page, err := h.contacts.SearchContacts(h.ctx(readKey), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
	if err != nil || len(page.GetContacts()) == 0 {
		t.Fatalf("find a contact: %v", err)
	}
	id := page.GetContacts()[0].GetId()
	lookups := func(call func()) int64 {
		before := h.srv.keys.lookups.Load()
		call()
		return h.srv.keys.lookups.Load() - before
	}
	if n := lookups(func() {
		if code, _, b := h.rest(http.MethodGet, "/v1/locations/"+sandbox.DemoLocationID+"/contacts/"+id, readKey, nil); code != http.StatusOK {
			t.Fatalf("REST GetContact: %d %s", code, b)
		}
	}); n != 1 {
		t.Errorf("a REST call looked its key up %d times, want 1", n)
	}
	if n := lookups(func() {
		if _, err := h.contacts.GetContact(h.ctx(readKey), &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: id}); err != nil {
			t.Fatalf("gRPC GetContact: %v", err)
		}
	}); n != 1 {
		t.Errorf("a gRPC call looked its key up %d times, want 1", n)
	}
	// What the guard found is the key the RPC's rule is checked against:
	// a read key still may not write.
	if code, _, _ := h.rest(http.MethodPost, "/v1/locations/"+sandbox.DemoLocationID+"/contacts", readKey, strings.NewReader(`{"firstName":"Ada"}`)); code != http.StatusForbidden {
		t.Errorf("a read key writing over REST: HTTP %d, want 403", code)
	}
}
