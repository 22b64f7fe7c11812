//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// hookKey signs the suite's webhooks: the key startSystem configures (seed
// 4), not HighLevel's.
var hookKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, ed25519.SeedSize))

// TestEventsAcrossReplicas: webhooks received by replica 1 reach a
// subscriber of replica 2 through the shared Redis, each exactly once once
// acknowledged, and SIGKILL of replica 1 right after its last 2xx loses
// none of them (the event is in Redis, AOF fsync always, before the 2xx).
func TestEventsAcrossReplicas(t *testing.T) {
	s := startSystem(t, 2)
	r1, r2 := s.replicas[0], s.replicas[1]
	events := hlgatev1.NewEventsServiceClient(r2.conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.readKey)
	const deadline = 3 * time.Second
	stream, err := events.StreamEvents(ctx, &hlgatev1.StreamEventsRequest{Subscription: "e2e-replicas", AckDeadline: durationpb.New(deadline)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil { // subscribed: later events are its own
		t.Fatalf("open the stream on replica2: %v", err)
	}

	var mu sync.Mutex
	got := map[string]int{}
	var ids []string
	recvDone := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvDone <- err
				return
			}
			ev := m.GetEvent()
			mu.Lock()
			got[ev.GetWebhookId()]++
			ids = append(ids, ev.GetId())
			mu.Unlock()
			if _, err := events.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: "e2e-replicas", EventIds: []string{ev.GetId()}}); err != nil {
				recvDone <- fmt.Errorf("ack %s: %w", ev.GetId(), err)
				return
			}
		}
	}()

	const n = 40
	var want []string
	for i := range n {
		wh := fmt.Sprintf("e2e-wh-%d-%s", i, randomHex(t, 4))
		s.postWebhook(r1, wh, []string{demoLoc, otherLoc}[i%2])
		want = append(want, wh)
	}
	// The last 2xx has been read: kill replica 1 at once.
	r1.signal(syscall.SIGKILL)
	if _, err := r1.wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	complete := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	}
	waitUntil := time.NewTimer(30 * time.Second)
	defer waitUntil.Stop()
	for !complete() {
		select {
		case err := <-recvDone:
			t.Fatalf("stream on replica2 ended: %v", err)
		case <-waitUntil.C:
			t.Fatalf("after 30s replica2's subscriber has %d of %d events", len(got), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Past the ack deadline (and polls), nothing comes again: every event
	// was acknowledged once delivered.
	time.Sleep(deadline + 2*time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, wh := range want {
		if got[wh] != 1 {
			t.Errorf("%s delivered %d times, want exactly once", wh, got[wh])
		}
	}
	if len(got) != n || len(ids) != n {
		t.Errorf("%d distinct events in %d deliveries, want %d", len(got), len(ids), n)
	}
	t.Logf("%d events posted to replica1 (then SIGKILLed) reached replica2's subscriber once each", n)
}

// postWebhook sends a signed ContactCreate to r's receiver and fails unless
// it is answered 200.
func (s *system) postWebhook(r *replica, webhookID, loc string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"type": "ContactCreate", "locationId": loc, "id": "c-" + webhookID,
		"webhookId": webhookID, "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
	})
	req, err := http.NewRequest(http.MethodPost, r.httpURL+"/webhooks/highlevel", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GHL-Signature", base64.StdEncoding.EncodeToString(ed25519.Sign(hookKey, body)))
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("webhook %s to replica%d: %v", webhookID, r.idx+1, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("webhook %s to replica%d: %d %s", webhookID, r.idx+1, resp.StatusCode, b)
	}
}
