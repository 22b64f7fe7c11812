package limiter

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// reserver sends the reserve decisions of one Redis limiter, those of
// concurrent callers together. A caller that finds no decision in flight
// sends its own at once, as a plain EVALSHA: a lone caller waits for
// nothing. Callers that come while a decision is in flight queue, and when
// it returns the queue goes out as one pipeline. Each decision is still
// its own script call, atomic on its own; what the batch saves is a write
// and a read per decision on each side, which at full quota is most of
// what a decision costs both processes.
type reserver struct {
	client redis.UniversalClient

	mu    sync.Mutex
	busy  bool // a batch is in flight
	queue []*reservation
}

// reservation is one caller's decision.
type reservation struct {
	keys []string
	args []any
	// state moves from queued to sent (by the sender) or to abandoned (by
	// a caller that stopped waiting before it was sent: its decision is
	// never sent, so it takes no slot).
	state atomic.Int32
	// Set before done is closed.
	res            []int64
	err            error
	sent, received time.Time
	done           chan struct{}
}

// A reservation's states.
const (
	rvQueued int32 = iota
	rvSent
	rvAbandoned
)

// do makes one decision: the reserve script's reply, and when the batch
// that carried it was sent and its replies received.
func (r *reserver) do(ctx context.Context, keys []string, args ...any) (res []int64, sentAt, received time.Time, err error) {
	rv := &reservation{keys: keys, args: args}
	r.mu.Lock()
	if !r.busy {
		r.busy = true
		r.mu.Unlock()
		rv.state.Store(rvSent)
		r.send(ctx, []*reservation{rv})
		r.next()
		return rv.res, rv.sent, rv.received, rv.err
	}
	rv.done = make(chan struct{})
	r.queue = append(r.queue, rv)
	r.mu.Unlock()
	select {
	case <-rv.done:
		return rv.res, rv.sent, rv.received, rv.err
	case <-ctx.Done():
		if rv.state.CompareAndSwap(rvQueued, rvAbandoned) {
			return nil, time.Time{}, time.Time{}, ctx.Err()
		}
		// Already sent: its reply tells what it took, as a caller's own
		// EVALSHA would.
		<-rv.done
		return rv.res, rv.sent, rv.received, rv.err
	}
}

// next sends what queued while a batch was in flight, batch after batch in
// the background, until a batch returns to an empty queue.
func (r *reserver) next() {
	r.mu.Lock()
	batch := r.queue
	r.queue = nil
	if len(batch) == 0 {
		r.busy = false
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	go func() {
		live := batch[:0]
		for _, rv := range batch {
			if rv.state.CompareAndSwap(rvQueued, rvSent) {
				live = append(live, rv)
			}
		}
		// The batch is no caller's: one leaving must not cancel the others.
		r.send(context.Background(), live)
		for _, rv := range live {
			close(rv.done)
		}
		r.next()
	}()
}

// send sends a batch and sets each reservation's reply.
func (r *reserver) send(ctx context.Context, batch []*reservation) {
	if len(batch) == 0 {
		return
	}
	start := time.Now()
	if len(batch) == 1 {
		rv := batch[0]
		rv.res, rv.err = reserveScript.Run(ctx, r.client, rv.keys, rv.args...).Int64Slice()
		rv.sent, rv.received = start, time.Now()
		return
	}
	cmds := make([]*redis.Cmd, len(batch))
	_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, rv := range batch {
			cmds[i] = reserveScript.EvalSha(ctx, p, rv.keys, rv.args...)
		}
		return nil
	})
	end := time.Now()
	for i, rv := range batch {
		rv.res, rv.err = cmds[i].Int64Slice()
		rv.sent, rv.received = start, end
		if rv.err != nil && redis.HasErrorPrefix(rv.err, "NOSCRIPT") {
			// Redis lost its scripts (a restart, SCRIPT FLUSH): Run
			// loads the script again.
			rv.sent = time.Now()
			rv.res, rv.err = reserveScript.Run(ctx, r.client, rv.keys, rv.args...).Int64Slice()
			rv.received = time.Now()
		}
	}
}
