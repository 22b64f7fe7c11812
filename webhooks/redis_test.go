package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/internal/redistest"
)

func newRedisStore(t testing.TB, rdb redis.UniversalClient, cfg StoreConfig) *RedisStore {
	t.Helper()
	s, err := NewRedisStore(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The event is in Redis when the 2xx is sent: another client (another
// replica) reads it back, byte for byte, right after the answer.
func TestRedisStoredBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	f := newFixture(t, newRedisStore(t, rs.Client(), DefaultStoreConfig), nil, nil, nil)
	body := event("ContactCreate", "wh-r1", t0, map[string]any{"companyId": "comp-9", "email": "ü@example.com"})
	wantStatus(t, post(t, f.rv, body, signed(body)), 200)

	reader := newRedisStore(t, rs.Client(), DefaultStoreConfig)
	got := all(t, reader)
	if len(got) != 1 {
		t.Fatalf("stream = %s", fmtIDs(got))
	}
	e := got[0]
	if !bytes.Equal(e.Body, body) || e.Type != "ContactCreate" || e.LocationID != "otg8dTQqGLh3Q6iQI55w" || e.CompanyID != "comp-9" ||
		e.WebhookID != "wh-r1" || !e.ReceiveTime.Equal(t0) || e.AppID != testApp {
		t.Errorf("read back %+v", e)
	}
	ttl, err := rs.Client().PTTL(context.Background(), reader.seenKey(testApp, "wh-r1")).Result()
	if err != nil || ttl <= 0 || ttl > DefaultStoreConfig.DedupeTTL {
		t.Errorf("dedupe key TTL = %v (%v), want in (0, %s]", ttl, err, DefaultStoreConfig.DedupeTTL)
	}
	// Read from the event's id returns nothing more.
	if more, err := reader.Read(context.Background(), testApp, e.ID, 10); err != nil || len(more) != 0 {
		t.Errorf("Read after the last id = %s, %v", fmtIDs(more), err)
	}
	if _, err := reader.Read(context.Background(), testApp, "", 0); err == nil {
		t.Error("Read of 0 events succeeded")
	}
}

// Two receivers, each with its own Redis client (two replicas), get every
// event several times at once: each webhookId is stored exactly once, and
// every delivery is answered 2xx.
func TestRedisDedupeAcrossReplicas(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	clk := newClock(t0)
	replicas := []*fixture{
		newFixture(t, newRedisStore(t, rs.Client(), DefaultStoreConfig), nil, nil, clk),
		newFixture(t, newRedisStore(t, rs.Client(), DefaultStoreConfig), nil, nil, clk),
	}
	const events, copies = 40, 6
	var wg sync.WaitGroup
	errs := make(chan string, events*copies)
	for i := range events {
		body := event("ContactTagUpdate", fmt.Sprintf("wh-%03d", i), t0, map[string]any{"tags": []string{"n" + fmt.Sprint(i)}})
		for c := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := post(t, replicas[c%2].rv, body, signed(body))
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("event %d copy %d: status %d", i, c, resp.StatusCode)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	got := all(t, replicas[0].store)
	count := map[string]int{}
	for _, e := range got {
		count[e.WebhookID]++
	}
	if len(got) != events || len(count) != events {
		t.Fatalf("stream has %d entries for %d webhook ids, want %d each once", len(got), len(count), events)
	}
	var stored, dups float64
	for _, r := range replicas {
		stored += testValue(r.metrics.stored)
		dups += testValue(r.metrics.duplicates)
	}
	if stored != events || dups != events*(copies-1) {
		t.Errorf("stored=%v duplicates=%v across replicas, want %d and %d", stored, dups, events, events*(copies-1))
	}
}

func TestRedisTrimsByLength(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	cfg := DefaultStoreConfig
	cfg.MaxLen = 5
	f := newFixture(t, newRedisStore(t, rs.Client(), cfg), nil, nil, nil)
	for i := range 12 {
		body := event("NoteCreate", fmt.Sprintf("wh-%02d", i), t0, nil)
		wantStatus(t, post(t, f.rv, body, signed(body)), 200)
	}
	got := all(t, f.store)
	if len(got) != 5 || got[0].WebhookID != "wh-07" || got[4].WebhookID != "wh-11" {
		t.Fatalf("stream = %s, want the last five", fmtIDs(got))
	}
}

// Trimming by age uses Redis's clock: an entry whose id is older than
// MaxAge (written here with an explicit id from 1970) is trimmed by the
// next append, a fresh one is kept.
func TestRedisTrimsByAge(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	s := newRedisStore(t, rs.Client(), StoreConfig{MaxLen: 100, MaxAge: time.Hour, DedupeTTL: time.Hour})
	if err := rs.Client().XAdd(ctx, &redis.XAddArgs{Stream: s.StreamKey(testApp), ID: "1000-0", Values: []string{fieldWebhook, "ancient", fieldReceived, t0.Format(time.RFC3339Nano)}}).Err(); err != nil {
		t.Fatal(err)
	}
	if before := all(t, s); len(before) != 1 {
		t.Fatalf("seeded stream = %s", fmtIDs(before))
	}
	if _, stored, err := s.Append(ctx, Event{AppID: testApp, WebhookID: "fresh", ReceiveTime: t0}); err != nil || !stored {
		t.Fatalf("append: stored=%v err=%v", stored, err)
	}
	if got := all(t, s); len(got) != 1 || got[0].WebhookID != "fresh" {
		t.Fatalf("stream = %s, want only the fresh event", fmtIDs(got))
	}
}

// With Redis down the receiver answers 429 with Retry-After (the status
// HighLevel resends), stores nothing, and the resend after the restart is
// stored; what was stored before the outage is still there.
func TestRedisDownAnswers429AndTheResendIsStored(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{AOF: true})
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	f := newFixture(t, newRedisStore(t, rdb, DefaultStoreConfig), nil, nil, nil)

	before := event("AppointmentCreate", "wh-before", t0, nil)
	wantStatus(t, post(t, f.rv, before, signed(before)), 200)

	rs.Stop()
	during := event("AppointmentUpdate", "wh-during", t0, nil)
	resp := post(t, f.rv, during, signed(during))
	wantStatus(t, resp, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if got := testValue(f.metrics.storeFailures); got != 1 {
		t.Errorf("store failures = %v, want 1", got)
	}

	rs.Restart()
	// HighLevel's resend: the same bytes and signature, some minutes later.
	f.clock.Advance(2 * time.Minute)
	wantStatus(t, post(t, f.rv, during, signed(during)), 200)
	got := all(t, newRedisStore(t, rs.Client(), DefaultStoreConfig))
	if len(got) != 2 || got[0].WebhookID != "wh-before" || got[1].WebhookID != "wh-during" || !bytes.Equal(got[1].Body, during) {
		t.Fatalf("stream after the restart = %s, want wh-before and wh-during", fmtIDs(got))
	}
}
