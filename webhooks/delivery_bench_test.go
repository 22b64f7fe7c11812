package webhooks

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDelivery measures an event's whole trip through a subscription:
// stored, read by a stream (in batches of the default size) and
// acknowledged, per backend. Events are stored before the timer starts.
func BenchmarkDelivery(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			var be *backend
			if name == "memory" {
				be = memoryBackendTB(b)
			} else {
				be = redisBackendTB(b)
			}
			s, err := be.d.Subscribe(context.Background(), "bench", Definition{AllLocations: true, AckDeadline: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for i := range b.N {
				wh := fmt.Sprintf("bench-%d", i)
				if _, _, err := be.store.Append(ctx, Event{AppID: testApp, Type: "ContactCreate", LocationID: locA, WebhookID: wh, Body: event("ContactCreate", wh, t0, nil), ReceiveTime: t0}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for got := 0; got < b.N; {
				evs, err := s.Next(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := be.d.Ack(ctx, "bench", ids(evs)); err != nil {
					b.Fatal(err)
				}
				got += len(evs)
			}
		})
	}
}
