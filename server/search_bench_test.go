package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// What reading one page of 20 sandbox contacts costs (the answer hlbench's
// search cell decodes): the envelope's members and every contact streamed
// into its message. For reference, encoding/json reads the same page into
// a map[string]any, what a facade reading the answer at all must do
// without keeping its types or reporting what it does not know. Run with
//
//	go test -run XXX -bench SearchPage -benchmem ./server/
func BenchmarkSearchPage(b *testing.B) {
	var (
		mu     sync.Mutex
		answer []byte
	)
	capture := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/contacts/search" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			mu.Lock()
			answer = rec.Body.Bytes()
			mu.Unlock()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(answer)
		})
	}
	h := newHarness(b, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: capture})
	resp, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 20})
	if err != nil {
		b.Fatal(err)
	}
	if len(resp.GetContacts()) != 20 {
		b.Fatalf("the sandbox answered %d contacts, want 20", len(resp.GetContacts()))
	}
	mu.Lock()
	raw := answer
	mu.Unlock()
	b.Run("hlgate", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			page, err := searchPage(raw)
			if err != nil {
				b.Fatal(err)
			}
			if len(page.contacts) != 20 {
				b.Fatalf("%d contacts", len(page.contacts))
			}
		}
	})
	b.Run("encoding-json-any", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			var page map[string]any
			if err := json.Unmarshal(raw, &page); err != nil {
				b.Fatal(err)
			}
			if l, _ := page["contacts"].([]any); len(l) != 20 {
				b.Fatalf("%d contacts", len(l))
			}
		}
	})
}
