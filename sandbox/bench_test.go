package sandbox_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// The sandbox is the upstream of hlgate's benchmarks, so it must not be
// their bottleneck. These measure simple GETs (one contact by id) with the
// quota off, through the whole pipeline: token lookup, quota bookkeeping,
// scope and Version checks, the store's read lock and JSON encoding.

func benchSetup(b *testing.B) (*env, string, string) {
	e := newEnv(b, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	resp, body := e.call("POST", "/contacts/search", tok, sandbox.VersionDefault, map[string]any{"locationId": sandbox.DemoLocationID, "pageLimit": 1})
	var r searchResult
	mustJSON(b, body, &r)
	if resp.StatusCode != 200 || len(r.Contacts) != 1 {
		b.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	return e, tok, "/contacts/" + r.Contacts[0].ID
}

// BenchmarkHandlerGet calls the handler directly, from many goroutines.
func BenchmarkHandlerGet(b *testing.B) {
	e, tok, path := benchSetup(b)
	b.SetParallelism(8)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Version", sandbox.VersionDefault)
			rec := httptest.NewRecorder()
			e.sb.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkHTTPGet goes over real loopback HTTP with keep-alive
// connections, as hlgate's benchmarks do.
func BenchmarkHTTPGet(b *testing.B) {
	e, tok, path := benchSetup(b)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	b.SetParallelism(16)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Version", sandbox.VersionDefault)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkHandlerGetQuery is a simple GET whose query the document
// validates (the pipelines of a location), to show what request
// validation costs where it runs; BenchmarkHandlerGet's path-only request
// skips it.
func BenchmarkHandlerGetQuery(b *testing.B) {
	e, tok, _ := benchSetup(b)
	path := "/opportunities/pipelines?locationId=" + sandbox.DemoLocationID
	b.SetParallelism(8)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Version", sandbox.VersionDefault)
			rec := httptest.NewRecorder()
			e.sb.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
