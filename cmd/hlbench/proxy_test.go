package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/hlgate/hlgate/internal/redistest"
)

// The bare proxy keeps reading the caller's body after the upstream has
// begun to answer. Without full duplex the proxy's server drains and closes
// that body when the answer's headers go out, and the transport tears down
// the upstream connection under the answer (what failed TestRunEndToEnd now
// and then: "read body: unexpected EOF"). Here the upstream answers its
// headers before it reads the body, and the caller sends the second half of
// its body only once they have arrived, so the proxy cannot pass unless it
// streams both ways at once.
func TestProxyStreamsTheBodyWhileItAnswers(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			t.Errorf("upstream: %v", err)
			return
		}
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("upstream flush: %v", err)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream read: %v", err)
			return
		}
		_, _ = w.Write(b)
	}))
	defer upstream.Close()
	h, tr, err := newProxy(upstream.URL, map[string]string{"loc": "token"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	px := httptest.NewServer(h)
	defer px.Close()

	// The first half is larger than the client's write buffer, so the
	// request's headers reach the upstream before the second half is sent.
	body := bytes.Repeat([]byte("0123456789abcdef"), 8<<10)
	first, second := body[:len(body)/2], body[len(body)/2:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	// A proxy that waits for the whole body never answers: the deadline
	// ends the call, and the pipe with it.
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	defer stop()
	// The transport sends the headers before it reads the body, so the
	// answer's headers may come back before the first half is taken:
	// the second goes only once the first is in.
	firstIn := make(chan struct{})
	go func() {
		defer close(firstIn)
		if _, err := pw.Write(first); err != nil {
			pw.CloseWithError(err)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, px.URL+"/v1/locations/loc/contacts:search", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	resp, err := px.Client().Do(req)
	if err != nil {
		t.Fatalf("headers before the whole body: %v", err)
	}
	defer resp.Body.Close()
	<-firstIn
	if _, err := pw.Write(second); err != nil {
		t.Fatalf("second half: %v", err)
	}
	_ = pw.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("answer %d with %d bytes, want 200 echoing the %d bytes sent", resp.StatusCode, len(got), len(body))
	}
}

// The quota proxy decides one GCRA slot per call in Redis before it
// proxies: within the limit it answers the upstream's bytes, past it 429
// without reaching the upstream, and the decisions live in Redis under the
// location's key, where every replica of a facade would share them.
func TestQuotaProxyDecidesEachCall(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.WriteString(w, `{"contact":{"id":"c1"}}`)
	}))
	defer upstream.Close()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client()
	h, tr, err := newProxy(upstream.URL, map[string]string{"loc": "token"}, gcraQuota(rdb, redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	px := httptest.NewServer(h)
	defer px.Close()

	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		resp, err := http.Get(px.URL + "/v1/locations/loc/contacts/c1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("call %d: status %d (%s), want %d", i+1, resp.StatusCode, b, want)
		}
		if want == http.StatusOK && string(b) != `{"contact":{"id":"c1"}}` {
			t.Fatalf("call %d answered %s, not the upstream's body", i+1, b)
		}
	}
	if n := reached.Load(); n != 2 {
		t.Errorf("the upstream saw %d calls, want the 2 the quota allowed", n)
	}
	if n, err := rdb.Exists(context.Background(), "rate:hlbench:quota:{loc}").Result(); err != nil || n != 1 {
		t.Errorf("the location's quota key in Redis: %d, %v; want it there", n, err)
	}
}
