package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

// A REST GetContact end to end (HTTP client, gateway, interceptor, generic
// path, upstream chain, sandbox over HTTP), the gateway calling the gRPC
// server in process (GatewayConn, as serve wires it) and, for comparison,
// over a loopback gRPC connection. in-process/32 keeps 32 callers busy
// at once, as hlbench's cells from 8 callers on: every core is busy, so
// its ns/op is the CPU a call costs the machine (client, gateway, server
// and sandbox together) divided among the cores. Run with
//
//	go test -run XXX -bench GatewayGetContact -benchmem ./server/
func BenchmarkGatewayGetContact(b *testing.B) {
	// Quota lifted, as in cmd/hlbench: the limiter decides every call but
	// never waits.
	h := newHarness(b, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, RateLimit: 1 << 30, DailyLimit: 1 << 40}, limiter: limiter.Config{Limit: 1 << 30, Daily: 1 << 40}})
	loc := sandbox.DemoLocationID
	page, err := h.contacts.SearchContacts(context.Background(), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 1})
	if err != nil || len(page.GetContacts()) != 1 {
		b.Fatalf("find a contact: %v", err)
	}
	path := "/v1/locations/" + loc + "/contacts/" + page.GetContacts()[0].GetId()

	loopback, err := h.srv.HTTPHandler(context.Background(), h.conn)
	if err != nil {
		b.Fatal(err)
	}
	loopSrv := httptest.NewServer(loopback)
	b.Cleanup(loopSrv.Close)

	get := func(client *http.Client, url string) error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for _, bc := range []struct{ name, url string }{
		{"in-process", h.httpURL},
		{"loopback", loopSrv.URL},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.Cleanup(client.CloseIdleConnections)
			b.ReportAllocs()
			for b.Loop() {
				if err := get(client, bc.url+path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("in-process/32", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.Cleanup(client.CloseIdleConnections)
		b.ReportAllocs()
		b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := get(client, h.httpURL+path); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
