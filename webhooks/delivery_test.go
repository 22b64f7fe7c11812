package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/internal/testwait"
)

const (
	locA = "locAAAAAAAAAAAAAAAAA"
	locB = "locBBBBBBBBBBBBBBBBB"
)

// backend is a Delivery over one store, with a way to let its ack deadlines
// pass: the memory backend's injected clock moves; Redis measures idle time
// with its own clock, so the test waits.
type backend struct {
	name    string
	store   Store
	d       *Delivery
	metrics *DeliveryMetrics
	// pass lets d pass: afterwards every event delivered before the call
	// with an ack deadline of at most d is due for redelivery.
	pass func(d time.Duration)
	// newReplica is another Delivery over the same events, as another
	// replica has (nil for the memory backend: one process only).
	newReplica func() *Delivery
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testDeliveryConfig polls often, so tests that wait for a redelivery do
// not wait a whole default poll interval for it.
func testDeliveryConfig(m *DeliveryMetrics) DeliveryConfig {
	return DeliveryConfig{PollInterval: 20 * time.Millisecond, Logger: quiet, Metrics: m, Batch: 8}
}

func memoryBackend(t *testing.T, cfg StoreConfig) *backend { return memoryBackendCfg(t, cfg) }

func memoryBackendTB(b *testing.B) *backend { return memoryBackendCfg(b, DefaultStoreConfig) }

func memoryBackendCfg(t testing.TB, cfg StoreConfig) *backend {
	t.Helper()
	clk := newClock(t0)
	store, err := NewMemoryStore(cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	m := NewDeliveryMetrics(nil)
	d, err := NewMemoryDelivery(store, testApp, clk.Now, testDeliveryConfig(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return &backend{name: "memory", store: store, d: d, metrics: m, pass: func(d time.Duration) { clk.Advance(d) }}
}

func redisBackend(t *testing.T, cfg StoreConfig) *backend { return redisBackendCfg(t, cfg) }

func redisBackendTB(b *testing.B) *backend { return redisBackendCfg(b, DefaultStoreConfig) }

func redisBackendCfg(t testing.TB, cfg StoreConfig) *backend {
	t.Helper()
	rs := redistest.Start(t, redistest.Options{})
	store := newRedisStore(t, rs.Client(), cfg)
	m := NewDeliveryMetrics(nil)
	open := func(m *DeliveryMetrics) *Delivery {
		d, err := NewRedisDelivery(newRedisStore(t, rs.Client(), cfg), testApp, testDeliveryConfig(m))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}
	return &backend{
		name: "redis", store: store, d: open(m), metrics: m,
		pass:       func(d time.Duration) { time.Sleep(d + 10*time.Millisecond) },
		newReplica: func() *Delivery { return open(NewDeliveryMetrics(nil)) },
	}
}

// eachBackend runs fn against the memory and the Redis backend.
func eachBackend(t *testing.T, cfg StoreConfig, fn func(t *testing.T, b *backend)) {
	t.Helper()
	for name, mk := range map[string]func(*testing.T, StoreConfig) *backend{"memory": memoryBackend, "redis": redisBackend} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, mk(t, cfg))
		})
	}
}

// registryOf registers m's backlog collector on a registry of its own.
func registryOf(t *testing.T, m *DeliveryMetrics) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.backlog)
	return reg
}

var seq struct {
	mu sync.Mutex
	n  int
}

// appendEvent stores an event of typ at location loc ("" for agency-level)
// and returns its id.
func appendEvent(t *testing.T, s Store, typ, loc string) string {
	t.Helper()
	seq.mu.Lock()
	seq.n++
	n := seq.n
	seq.mu.Unlock()
	wh := fmt.Sprintf("wh-%d", n)
	body := event(typ, wh, t0, map[string]any{"locationId": loc})
	id, stored, err := s.Append(context.Background(), Event{AppID: testApp, Type: typ, LocationID: loc, WebhookID: wh, Body: body, ReceiveTime: t0})
	if err != nil || !stored {
		t.Fatalf("append %s: %v (stored %v)", wh, err, stored)
	}
	return id
}

func subscribe(t *testing.T, d *Delivery, name string, def Definition) *Subscriber {
	t.Helper()
	s, err := d.Subscribe(context.Background(), name, def)
	if err != nil {
		t.Fatalf("subscribe %s: %v", name, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var everything = Definition{AllLocations: true, AckDeadline: time.Minute}

// collect calls Next until n events arrived (failing after a bound) and
// returns their ids in delivery order.
func collect(t *testing.T, s *Subscriber, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	for len(ids) < n {
		evs, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(ids), n, err)
		}
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
	}
	if len(ids) != n {
		t.Fatalf("got %d events, want %d: %v", len(ids), n, ids)
	}
	return ids
}

// nothing asserts that s gets no event within a while: long enough for
// several polls, which is what a wrong redelivery would need.
func nothing(t *testing.T, s *Subscriber) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	evs, err := s.Next(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %d events (%v), %v; want nothing", len(evs), ids(evs), err)
	}
}

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestDeliveryEverySubscriptionGetsEveryEvent(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		a := subscribe(t, b.d, "sub-a", everything)
		c := subscribe(t, b.d, "sub-b", everything)
		var want []string
		for i := range 20 {
			want = append(want, appendEvent(t, b.store, "ContactCreate", []string{locA, locB, ""}[i%3]))
		}
		for _, s := range []*Subscriber{a, c} {
			if got := collect(t, s, len(want)); !slices.Equal(got, want) {
				t.Errorf("%s got %v, want %v (in stream order)", s.name, got, want)
			}
		}
		if got := testutil.ToFloat64(b.metrics.delivered.WithLabelValues("sub-a")); got != 20 {
			t.Errorf("delivered{sub-a} = %v, want 20", got)
		}
	})
}

// Several streams of one subscription, each acknowledging what it gets,
// while events are appended: every event reaches exactly one stream.
func TestDeliveryStreamsShareASubscription(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		const streams, events = 4, 120
		deliveries := []*Delivery{b.d}
		if b.newReplica != nil {
			deliveries = append(deliveries, b.newReplica()) // two replicas' streams share it
		}
		subs := make([]*Subscriber, streams)
		for i := range subs {
			subs[i] = subscribe(t, deliveries[i%len(deliveries)], "shared", everything)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		got := map[string]int{}
		perStream := make([]int, streams)
		var wg sync.WaitGroup
		for i, s := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					evs, err := s.Next(ctx)
					if err != nil {
						return
					}
					mu.Lock()
					for _, ev := range evs {
						got[ev.ID]++
						perStream[i]++
					}
					mu.Unlock()
					if err := s.d.Ack(ctx, "shared", ids(evs)); err != nil && ctx.Err() == nil {
						t.Errorf("ack: %v", err)
					}
				}
			}()
		}
		var want []string
		var appends sync.WaitGroup
		var wmu sync.Mutex
		for range 4 {
			appends.Add(1)
			go func() {
				defer appends.Done()
				for range events / 4 {
					id := appendEvent(t, b.store, "ContactUpdate", locA)
					wmu.Lock()
					want = append(want, id)
					wmu.Unlock()
				}
			}()
		}
		appends.Wait()
		testwait.For(t, "every event delivered", 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == events
		})
		cancel()
		wg.Wait()
		for _, id := range want {
			if got[id] != 1 {
				t.Errorf("event %s delivered %d times, want once", id, got[id])
			}
		}
		t.Logf("%s: events per stream %v", b.name, perStream)
	})
}

// An event delivered and not acknowledged comes back after its deadline to
// the stream that reconnects; once acknowledged, never again.
func TestDeliveryRedeliversUnackedAfterTheDeadline(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		def := Definition{AllLocations: true, AckDeadline: time.Second}
		first := subscribe(t, b.d, "redeliver", def)
		id := appendEvent(t, b.store, "ContactCreate", locA)
		if got := collect(t, first, 1); got[0] != id {
			t.Fatalf("first delivery %v, want %s", got, id)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		again := subscribe(t, b.d, "redeliver", def)
		if b.name == "memory" {
			// The clock has not moved: the deadline has not passed.
			nothing(t, again)
			b.pass(def.AckDeadline - time.Millisecond)
			nothing(t, again)
			b.pass(time.Millisecond)
		} else {
			b.pass(def.AckDeadline)
		}
		if got := collect(t, again, 1); got[0] != id {
			t.Fatalf("redelivery %v, want %s", got, id)
		}
		if got := testutil.ToFloat64(b.metrics.redelivered.WithLabelValues("redeliver")); got != 1 {
			t.Errorf("redelivered = %v, want 1", got)
		}
		if err := b.d.Ack(context.Background(), "redeliver", []string{id}); err != nil {
			t.Fatal(err)
		}
		b.pass(def.AckDeadline)
		nothing(t, again)
		// A resent ack, and an ack of an id never delivered, succeed.
		if err := b.d.Ack(context.Background(), "redeliver", []string{id, "1-0"}); err != nil {
			t.Errorf("second ack: %v", err)
		}
		if got := testutil.ToFloat64(b.metrics.acked.WithLabelValues("redeliver")); got != 1 {
			t.Errorf("acked = %v, want 1 (acks of acknowledged ids are not counted)", got)
		}
		if err := b.d.Ack(context.Background(), "redeliver", []string{"1-x"}); err == nil {
			t.Error("an ack of a malformed id succeeded")
		}
	})
}

func TestDeliveryDefinitionIsTheSubscriptionsIdentity(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		def := Definition{Types: []string{"ContactCreate", "ContactDelete"}, Locations: []string{locB, locA}, AckDeadline: 5 * time.Second}
		subscribe(t, b.d, "crm", def)
		// The same definition spelled in another order is the same.
		same := Definition{Types: []string{"ContactDelete", "ContactCreate", "ContactCreate"}, Locations: []string{locA, locB}, AckDeadline: 5 * time.Second}
		subscribe(t, b.d, "crm", same)
		for _, other := range []Definition{
			{Types: []string{"ContactCreate"}, Locations: []string{locA, locB}, AckDeadline: 5 * time.Second},
			{Types: def.Types, Locations: []string{locA}, AckDeadline: 5 * time.Second},
			{Types: def.Types, AllLocations: true, AckDeadline: 5 * time.Second},
			{Types: def.Types, Locations: def.Locations, AckDeadline: 6 * time.Second},
			{Types: def.Types, Locations: def.Locations, AckDeadline: 5 * time.Second, FromEarliest: true},
		} {
			_, err := b.d.Subscribe(context.Background(), "crm", other)
			var mm *MismatchError
			if !errors.As(err, &mm) {
				t.Errorf("Subscribe with %s = %v, want a mismatch", other, err)
				continue
			}
			if mm.Have.encode() != def.encode() {
				t.Errorf("mismatch names %s, want the stored %s", mm.Have, def)
			}
		}
		got, err := b.d.Definition(context.Background(), "crm")
		if err != nil || got.encode() != def.encode() {
			t.Errorf("Definition = %s, %v; want %s", got, err, def)
		}
		if _, err := b.d.Definition(context.Background(), "nobody"); !errors.Is(err, ErrNoSubscription) {
			t.Errorf("Definition of an unknown subscription: %v", err)
		}
	})
}

// Events outside the definition never reach the subscription's streams, and
// are acknowledged for it: nothing stays pending. Events of no location
// reach only a subscription of every location.
func TestDeliveryFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		onlyA := subscribe(t, b.d, "only-a", Definition{Types: []string{"ContactCreate", "INSTALL"}, Locations: []string{locA}, AckDeadline: time.Second})
		all := subscribe(t, b.d, "all", Definition{Types: []string{"INSTALL"}, AllLocations: true, AckDeadline: time.Second})
		var wantA, wantAll []string
		for _, e := range []struct{ typ, loc string }{
			{"ContactCreate", locA}, {"ContactCreate", locB}, {"ContactUpdate", locA}, {"INSTALL", ""},
			{"INSTALL", locA}, {"INSTALL", locB}, {"ContactCreate", ""},
		} {
			id := appendEvent(t, b.store, e.typ, e.loc)
			if e.loc == locA && (e.typ == "ContactCreate" || e.typ == "INSTALL") {
				wantA = append(wantA, id)
			}
			if e.typ == "INSTALL" {
				wantAll = append(wantAll, id)
			}
		}
		if got := collect(t, onlyA, len(wantA)); !slices.Equal(got, wantA) {
			t.Errorf("only-a got %v, want %v", got, wantA)
		}
		if got := collect(t, all, len(wantAll)); !slices.Equal(got, wantAll) {
			t.Errorf("all got %v, want %v", got, wantAll)
		}
		for _, s := range []*Subscriber{onlyA, all} {
			if err := b.d.Ack(context.Background(), s.name, append(slices.Clone(wantA), wantAll...)); err != nil {
				t.Fatal(err)
			}
		}
		// Whatever was left unacknowledged would come back after the
		// deadline: nothing does.
		b.pass(time.Second)
		nothing(t, onlyA)
		nothing(t, all)
		if got := testutil.ToFloat64(b.metrics.filtered.WithLabelValues("only-a")); got != 5 {
			t.Errorf("filtered{only-a} = %v, want 5", got)
		}
		bl, err := b.d.g.backlogs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range bl {
			if x.Unacked != 0 || x.OldestUnacked != 0 {
				t.Errorf("backlog %+v, want nothing unacknowledged", x)
			}
		}
	})
}

func TestDeliveryStartPositions(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		old := appendEvent(t, b.store, "ContactCreate", locA)
		now := subscribe(t, b.d, "from-now", everything)
		early := subscribe(t, b.d, "from-earliest", Definition{AllLocations: true, AckDeadline: time.Minute, FromEarliest: true})
		fresh := appendEvent(t, b.store, "ContactCreate", locA)
		if got := collect(t, now, 1); got[0] != fresh {
			t.Errorf("a new subscription got %v, want only %s (created after %s)", got, fresh, old)
		}
		nothing(t, now)
		if got := collect(t, early, 2); !slices.Equal(got, []string{old, fresh}) {
			t.Errorf("from-earliest got %v, want %v", got, []string{old, fresh})
		}
	})
}

// Unacknowledged events the stream trimmed are counted and logged, not
// delivered as something else, and the subscription goes on.
func TestDeliveryCountsTrimmedUnackedEvents(t *testing.T) {
	t.Parallel()
	cfg := DefaultStoreConfig
	cfg.MaxLen = 2
	eachBackend(t, cfg, func(t *testing.T, b *backend) {
		def := Definition{AllLocations: true, AckDeadline: time.Second}
		s := subscribe(t, b.d, "trim", def)
		lost := appendEvent(t, b.store, "ContactCreate", locA)
		collect(t, s, 1)
		var kept []string
		for range 2 {
			kept = append(kept, appendEvent(t, b.store, "ContactCreate", locA))
		}
		if got := collect(t, s, 2); !slices.Equal(got, kept) {
			t.Fatalf("got %v, want %v", got, kept)
		}
		b.pass(def.AckDeadline)
		// The two kept come back; the trimmed one cannot.
		if got := collect(t, s, 2); !slices.Equal(got, kept) {
			t.Errorf("redelivered %v, want %v (not the trimmed %s)", got, kept, lost)
		}
		if got := testutil.ToFloat64(b.metrics.expired.WithLabelValues("trim")); got != 1 {
			t.Errorf("expired = %v, want 1", got)
		}
	})
}

func TestDeliveryBacklog(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		s := subscribe(t, b.d, "backlog", everything)
		var got []string
		for range 3 {
			appendEvent(t, b.store, "ContactCreate", locA)
		}
		got = collect(t, s, 3)
		appendEvent(t, b.store, "ContactCreate", locA) // not delivered yet
		if err := b.d.Ack(context.Background(), "backlog", got[:1]); err != nil {
			t.Fatal(err)
		}
		b.pass(2 * time.Second)
		bl, err := b.d.g.backlogs(context.Background())
		if err != nil || len(bl) != 1 {
			t.Fatalf("backlogs = %+v, %v", bl, err)
		}
		if bl[0].Subscription != "backlog" || bl[0].Unacked != 2 {
			t.Errorf("backlog = %+v, want 2 unacked", bl[0])
		}
		if b.name == "memory" && bl[0].OldestUnacked != 2*time.Second {
			t.Errorf("oldest unacked = %s, want 2s on the test clock", bl[0].OldestUnacked)
		}
		if bl[0].OldestUnacked < 2*time.Second {
			t.Errorf("oldest unacked = %s, want at least 2s", bl[0].OldestUnacked)
		}
		n, err := testutil.GatherAndCount(registryOf(t, b.metrics), "hlgate_events_oldest_unacked_age_seconds", "hlgate_events_unacked")
		if err != nil || n != 2 {
			t.Errorf("backlog series = %d, %v; want 2", n, err)
		}
	})
}

func TestDeliverySubscriptionLimitAndClose(t *testing.T) {
	t.Parallel()
	eachBackend(t, DefaultStoreConfig, func(t *testing.T, b *backend) {
		b.d.cfg.MaxSubscriptions = 2
		subscribe(t, b.d, "one", everything)
		s := subscribe(t, b.d, "two", everything)
		if _, err := b.d.Subscribe(context.Background(), "three", everything); !errors.Is(err, ErrSubscriptionLimit) {
			t.Errorf("a third subscription: %v, want ErrSubscriptionLimit", err)
		}
		subscribe(t, b.d, "one", everything) // an existing one still opens
		for _, bad := range []string{"", "a b", "x{y}", string(make([]byte, 65))} {
			if _, err := b.d.Subscribe(context.Background(), bad, everything); err == nil {
				t.Errorf("subscription name %q accepted", bad)
			}
		}
		done := make(chan error, 1)
		go func() { _, err := s.Next(context.Background()); done <- err }()
		b.d.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close: %v, want ErrClosed", err)
		}
	})
}

// A stream that ends holding nothing leaves no consumer behind in the
// group; one that holds unacknowledged events keeps them for redelivery.
func TestRedisDeliveryLeavesNoIdleConsumer(t *testing.T) {
	t.Parallel()
	b := redisBackend(t, DefaultStoreConfig)
	rs := b.store.(*RedisStore)
	s := subscribe(t, b.d, "tidy", everything)
	appendEvent(t, b.store, "ContactCreate", locA)
	got := collect(t, s, 1)
	holding := subscribe(t, b.d, "tidy", everything)
	appendEvent(t, b.store, "ContactCreate", locA)
	collect(t, holding, 1)
	if err := b.d.Ack(context.Background(), "tidy", got); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := holding.Close(); err != nil {
		t.Fatal(err)
	}
	cs, err := rs.rdb.XInfoConsumers(context.Background(), rs.StreamKey(testApp), "tidy").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Name != holding.consumer || cs[0].Pending != 1 {
		t.Errorf("consumers = %+v, want only %s with its 1 pending event", cs, holding.consumer)
	}
}
