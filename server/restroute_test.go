package server

import (
	"net/http"
	"net/url"
	"testing"
)

// routeMarker is a handler that only names itself, so a test can see which
// one a mux chose.
type routeMarker struct{ name string }

func (m *routeMarker) ServeHTTP(http.ResponseWriter, *http.Request) {}

// routesMux is a mux with the patterns HTTPHandler registers that matter to
// restRouted: the gateway's, the stream routes, and routes outside /v1/.
func routesMux() (*http.ServeMux, http.Handler) {
	rest := &routeMarker{"rest"}
	mux := http.NewServeMux()
	mux.Handle(restPattern, rest)
	for _, route := range streamRoutes {
		mux.Handle(route, &routeMarker{"stream"})
	}
	mux.Handle("GET /healthz", &routeMarker{"healthz"})
	mux.Handle("POST /webhooks/highlevel", &routeMarker{"webhooks"})
	return mux, rest
}

// checkRestRouted fails when restRouted takes a request past the mux that
// the mux would not have given the gateway's pattern, unredirected.
func checkRestRouted(t *testing.T, mux *http.ServeMux, rest http.Handler, r *http.Request) bool {
	t.Helper()
	routed := restRouted(r, lastSegments(streamRoutes))
	if !routed {
		return false
	}
	if h, pattern := mux.Handler(r); h != rest || pattern != restPattern {
		t.Errorf("%s %s: restRouted sends it to the gateway; the mux gives %q (%T)", r.Method, r.URL, pattern, h)
	}
	return true
}

func TestRestRoutedAgreesWithTheMux(t *testing.T) {
	t.Parallel()
	mux, rest := routesMux()
	cases := []struct {
		method, target string
		routed         bool
	}{
		{"GET", "/v1/locations/loc/contacts/c1", true},
		{"POST", "/v1/locations/loc/contacts:search", true},
		{"DELETE", "/v1/locations/loc/contacts/c1", true},
		{"POST", "/v1/tokens:import", true},
		{"GET", "/v1/locations/loc/contacts/c1?x=1", true},
		{"GET", "/v1/", true},
		{"GET", "/v1/subscriptions/s1/events:stream", false}, // the stream route, longLived
		{"POST", "/v1/subscriptions/s1/events:stream", false},
		{"GET", "/v1//locations", false},                 // redirected to a clean path
		{"GET", "/v1/locations/./contacts", false},       // redirected
		{"GET", "/v1/locations/../healthz", false},       // redirected, elsewhere
		{"GET", "/v1/locations/..", false},               // redirected
		{"GET", "/v1/locations/a%2Fb/contacts/c", false}, // an escaped slash: the mux matches the escaped path
		{"GET", "/v1", false},                            // redirected to /v1/
		{"GET", "/healthz", false},
		{"POST", "/webhooks/highlevel", false},
		{"CONNECT", "/v1/locations", false},
	}
	for _, c := range cases {
		u, err := url.ParseRequestURI(c.target)
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{Method: c.method, URL: u, Host: "hlgate", RequestURI: c.target, Header: http.Header{}}
		if got := checkRestRouted(t, mux, rest, r); got != c.routed {
			t.Errorf("%s %s: restRouted = %v, want %v", c.method, c.target, got, c.routed)
		}
	}
}

// FuzzRestRoutedAgreesWithTheMux: no request restRouted takes past the mux
// would have gone anywhere but the gateway's pattern.
func FuzzRestRoutedAgreesWithTheMux(f *testing.F) {
	for _, s := range []string{"/v1/locations/loc/contacts/c1", "/v1/subscriptions/s/events:stream", "/v1//x", "/v1/a/%2e%2e/b", "/v1/a/b/", "/v1/x%20y"} {
		f.Add("GET", s)
	}
	mux, rest := routesMux()
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return
		}
		checkRestRouted(t, mux, rest, &http.Request{Method: method, URL: u, Host: "hlgate", RequestURI: target, Header: http.Header{}})
	})
}

// validMethod reports an HTTP method token, as the server would read one.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '/' || c == ':' || c == ';' {
			return false
		}
	}
	return true
}
