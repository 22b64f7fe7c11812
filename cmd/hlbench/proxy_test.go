package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
	h, tr, err := newProxy(upstream.URL, map[string]string{"loc": "token"})
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
	go func() {
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
