package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hlgate/hlgate/gen/highlevel"
)

// fakeHL is a server whose upstream is handler, for answers the sandbox
// never gives; a nil handler fails any upstream call.
func fakeHL(t *testing.T, handler http.HandlerFunc) *Server {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("unexpected upstream call %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
		}
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	hl, err := highlevel.NewClientWithResponses(srv.URL, highlevel.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Upstream: hl, Tokens: noTokens{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
