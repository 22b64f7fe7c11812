package tokenstore

import (
	"context"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
)

// BenchmarkTokenCached measures the hot path: a valid token cached in
// memory, with the Redis store behind it. It reports the Redis round
// trips per call (must be 0) beside ns/op and allocs/op.
func BenchmarkTokenCached(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	rdb := srv.Client()
	hook := &redistest.RoundTrips{}
	rdb.AddHook(hook)
	kr, _ := NewKeyring(testKey(b, 1))
	store, _ := NewRedisStore(rdb, kr, nil)
	m, err := NewManager(store, nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	rec := newTestRecord("BenchLocation0000001", 1)
	rec.Expiry = time.Now().Add(time.Hour)
	if _, err := m.put(ctx, rec); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Token(ctx, rec.Subject); err != nil {
		b.Fatal(err)
	}
	before := hook.Count()
	b.ReportAllocs()
	b.ResetTimer()
	var tok Token
	for b.Loop() {
		tok, err = m.Token(ctx, rec.Subject)
	}
	b.StopTimer()
	if err != nil || tok.AccessToken != rec.AccessToken {
		b.Fatalf("Token = %v, %v", tok, err)
	}
	trips := hook.Since(before)
	b.ReportMetric(float64(len(trips))/float64(b.N), "redis-round-trips/op")
	if len(trips) != 0 {
		b.Fatalf("the hot path made %d Redis round trips: %q", len(trips), trips)
	}
}

// BenchmarkTokenCachedParallel is the hot path from every core at once.
func BenchmarkTokenCachedParallel(b *testing.B) {
	m, err := NewManager(NewMemoryStore(), nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	rec := newTestRecord("BenchLocation0000001", 1)
	if _, err := m.put(ctx, rec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Token(ctx, rec.Subject); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The hot path is called twice for every upstream request: with a valid
// token cached it must allocate nothing (the benchmark above measures its
// speed; this keeps the property in `go test`).
func TestTokenCachedAllocatesNothing(t *testing.T) { // not parallel: AllocsPerRun counts the whole process
	m, err := NewManager(NewMemoryStore(), nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	rec := newTestRecord("AllocLocation0000001", 1)
	rec.Expiry = time.Now().Add(time.Hour)
	if _, err := m.put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := m.Token(ctx, rec.Subject); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Token with a cached token allocates %.1f times per call, want 0", n)
	}
}
