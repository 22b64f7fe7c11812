package webhooks

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// NewMemoryDelivery delivers the events of appID's stream in store to
// subscriptions kept in this process: the semantics of the Redis consumer
// groups (one cursor per subscription, pending events with deadlines,
// redelivery), for one replica and lost on exit. now is the clock of the
// ack deadlines (time.Now when nil); it must be the store's clock too,
// since an event's age is read from its id.
func NewMemoryDelivery(store *MemoryStore, appID string, now func() time.Time, cfg DeliveryConfig) (*Delivery, error) {
	if store == nil {
		return nil, errors.New("webhooks: memory delivery needs a MemoryStore")
	}
	if appID == "" {
		return nil, errors.New("webhooks: memory delivery needs the app id")
	}
	if now == nil {
		now = time.Now
	}
	return newDelivery(&memGroups{store: store, app: appPrefix(appID), now: now, subs: map[string]*memSub{}}, cfg), nil
}

type memGroups struct {
	store *MemoryStore
	app   string
	now   func() time.Time

	mu     sync.Mutex
	subs   map[string]*memSub
	closed bool
}

// memSub is one subscription: like a Redis consumer group, a cursor (the
// last id delivered) and the pending entries list.
type memSub struct {
	def     Definition
	enc     string
	last    streamID
	pending map[streamID]*memPending
}

type memPending struct {
	consumer    string
	deliveredAt time.Time
}

var _ groups = (*memGroups)(nil)

func (g *memGroups) lock() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	return nil
}

func (g *memGroups) open(_ context.Context, name string, def Definition, maxSubs int) error {
	if err := g.lock(); err != nil {
		return err
	}
	defer g.mu.Unlock()
	enc := def.encode()
	if sub, ok := g.subs[name]; ok {
		if sub.enc != enc {
			return &MismatchError{Subscription: name, Have: sub.def, Asked: def}
		}
		return nil
	}
	if len(g.subs) >= maxSubs {
		return ErrSubscriptionLimit
	}
	sub := &memSub{def: def, enc: enc, pending: map[streamID]*memPending{}}
	if !def.FromEarliest {
		// Like XGROUP CREATE … $: the events stored so far are not the
		// new subscription's.
		sub.last = g.store.lastID(g.app)
	}
	g.subs[name] = sub
	return nil
}

func (g *memGroups) definition(_ context.Context, name string) (Definition, error) {
	if err := g.lock(); err != nil {
		return Definition{}, err
	}
	defer g.mu.Unlock()
	sub, ok := g.subs[name]
	if !ok {
		return Definition{}, ErrNoSubscription
	}
	return sub.def, nil
}

func (g *memGroups) sub(name string) (*memSub, error) {
	sub, ok := g.subs[name]
	if !ok {
		return nil, ErrNoSubscription
	}
	return sub, nil
}

func (g *memGroups) claim(_ context.Context, name, consumer string, minIdle time.Duration, _ string, count int) ([]Event, []string, string, error) {
	if err := g.lock(); err != nil {
		return nil, nil, "", err
	}
	defer g.mu.Unlock()
	sub, err := g.sub(name)
	if err != nil {
		return nil, nil, "", err
	}
	now := g.now()
	ids := make([]streamID, 0, len(sub.pending))
	for id, p := range sub.pending {
		if now.Sub(p.deliveredAt) >= minIdle {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b streamID) int {
		if a.less(b) {
			return -1
		}
		return 1
	})
	var evs []Event
	var gone []string
	for _, id := range ids {
		if len(evs) >= count {
			break
		}
		ev, ok := g.store.entry(g.app, id)
		if !ok {
			delete(sub.pending, id)
			gone = append(gone, id.String())
			continue
		}
		sub.pending[id] = &memPending{consumer: consumer, deliveredAt: now}
		evs = append(evs, ev)
	}
	return evs, gone, "0-0", nil
}

func (g *memGroups) readNew(ctx context.Context, name, consumer string, count int) ([]Event, error) {
	if err := g.lock(); err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	sub, err := g.sub(name)
	if err != nil {
		return nil, err
	}
	evs, err := g.store.Read(ctx, g.app, sub.last.String(), count)
	if err != nil {
		return nil, err
	}
	now := g.now()
	for _, ev := range evs {
		id, err := parseStreamID(ev.ID)
		if err != nil {
			return nil, err
		}
		sub.pending[id] = &memPending{consumer: consumer, deliveredAt: now}
		sub.last = id
	}
	return evs, nil
}

func (g *memGroups) ack(_ context.Context, name string, ids []string) (int64, error) {
	if err := g.lock(); err != nil {
		return 0, err
	}
	defer g.mu.Unlock()
	sub, ok := g.subs[name]
	if !ok {
		return 0, nil // like XACK on a group that does not exist
	}
	var n int64
	for _, s := range ids {
		id, err := parseStreamID(s)
		if err != nil {
			return 0, err
		}
		if _, ok := sub.pending[id]; ok {
			delete(sub.pending, id)
			n++
		}
	}
	return n, nil
}

// leave has nothing to forget: consumers are not kept apart from their
// pending entries.
func (g *memGroups) leave(context.Context, string, string) error { return nil }

func (g *memGroups) wake() <-chan struct{} { return g.store.changed(g.app) }

func (g *memGroups) backlogs(context.Context) ([]Backlog, error) {
	if err := g.lock(); err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	now := uint64(max(g.now().UnixMilli(), 0))
	out := make([]Backlog, 0, len(g.subs))
	for name, sub := range g.subs {
		b := Backlog{Subscription: name, Unacked: int64(len(sub.pending))}
		var oldest uint64
		found := false
		for id := range sub.pending {
			if !found || id.ms < oldest {
				oldest, found = id.ms, true
			}
		}
		if next, ok := g.store.firstAfter(g.app, sub.last); ok && (!found || next.ms < oldest) {
			oldest, found = next.ms, true
		}
		if found && now > oldest {
			b.OldestUnacked = time.Duration(now-oldest) * time.Millisecond
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Backlog) int { return cmp.Compare(a.Subscription, b.Subscription) })
	return out, nil
}

func (g *memGroups) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
