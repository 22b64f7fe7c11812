package limiter

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// reserver sends the reserve decisions of one Redis limiter, those of
// concurrent callers together. A caller that finds no decision in flight
// sends its own at once, as a plain EVALSHA: a lone caller waits for
// nothing. Callers that come while a decision is in flight queue, and when
// it returns the queue goes out, at most maxPerCall decisions a round trip:
// in one reserveManyScript call (in a Redis Cluster, one call per hash tag,
// whose keys share a slot). The bound is the decisions' way back: a batch's
// decisions are made when its call runs and each caller hears of its own
// only when the whole round trip returns, so a longer round trip would make
// a slot granted for now late by the time its caller could use it (a
// burst of 5,000 queued callers took up to 90 ms that way), where
// decisions still queued are made later, on a later clock. Each decision
// is still made as reserveScript makes it, in the order the callers
// queued; what the batch saves is a write and a read per decision on each
// side, and in Redis the script's call, which at full quota is most of
// what a decision costs both processes.
type reserver struct {
	client redis.UniversalClient
	// byTag: one script call carries the decisions of one hash tag only
	// (see newReserver).
	byTag bool

	mu    sync.Mutex
	busy  bool // a batch is in flight
	queue []*reservation
}

// newReserver is the reserver of a limiter on client. Any client but a
// single server's (a Redis Cluster's, a ring's) may send each key to
// another server, so it gets one call per hash tag.
func newReserver(client redis.UniversalClient) *reserver {
	_, single := client.(*redis.Client)
	return &reserver{client: client, byTag: !single}
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

// next sends what queued while a batch was in flight, at most maxPerCall
// decisions a batch, batch after batch in the background, in the order
// they queued, until a batch returns to an empty queue.
func (r *reserver) next() {
	r.mu.Lock()
	n := min(len(r.queue), maxPerCall)
	if n == 0 {
		r.busy = false
		r.mu.Unlock()
		return
	}
	batch := r.queue[:n:n]
	if r.queue = r.queue[n:]; len(r.queue) == 0 {
		r.queue = nil
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

// maxPerCall bounds the decisions of one round trip, and so of one
// reserveManyScript call, so that one call holds Redis (single-threaded)
// for a bounded time, about as long as a pipeline of as many plain calls
// less what the shared call saves, and a batch's decisions reach their
// callers within about a millisecond of being made.
const maxPerCall = 64

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
	calls := r.calls(batch)
	cmds := make([]*redis.Cmd, len(calls))
	_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			keys, args := c.request()
			cmds[i] = reserveManyScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	end := time.Now()
	for i, c := range calls {
		err := cmds[i].Err()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis does not have the script (its first batch, a restart,
			// SCRIPT FLUSH): EVAL sends it, and Redis keeps it for the
			// next EVALSHA. NOSCRIPT means nothing ran.
			sent := time.Now()
			keys, args := c.request()
			cmds[i] = reserveManyScript.Eval(ctx, r.client, keys, args...)
			c.reply(cmds[i], sent, time.Now())
			continue
		}
		c.reply(cmds[i], start, end)
	}
}

// manyCall is the decisions of one reserveManyScript call.
type manyCall []*reservation

// calls splits a batch into script calls, keeping the order of its
// decisions within each: at most maxPerCall decisions per call, and with
// byTag only decisions of one hash tag in a call.
func (r *reserver) calls(batch []*reservation) []manyCall {
	var out []manyCall
	open := map[string]int{} // the call still taking decisions of a tag
	for _, rv := range batch {
		tag := ""
		if r.byTag {
			tag = hashTag(rv.keys[0])
		}
		i, ok := open[tag]
		if !ok || len(out[i]) == maxPerCall {
			i = len(out)
			out = append(out, nil)
			open[tag] = i
		}
		out[i] = append(out[i], rv)
	}
	return out
}

// request is the call's KEYS and ARGV: each decision's in turn.
func (c manyCall) request() (keys []string, args []any) {
	keys = make([]string, 0, 3*len(c))
	args = make([]any, 0, 7*len(c))
	for _, rv := range c {
		keys = append(keys, rv.keys...)
		args = append(args, rv.args...)
	}
	return keys, args
}

// reply gives each decision of the call its part of the script's reply.
func (c manyCall) reply(cmd *redis.Cmd, sent, received time.Time) {
	vals, err := cmd.Slice()
	if err == nil && len(vals) != len(c) {
		err = fmt.Errorf("the reserve script replied %d decisions, want %d", len(vals), len(c))
	}
	for i, rv := range c {
		rv.sent, rv.received = sent, received
		if err != nil {
			rv.err = err
			continue
		}
		rv.res, rv.err = int64s(vals[i])
	}
}

// int64s is one decision's reply, a list of integers.
func int64s(v any) ([]int64, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the reserve script replied %T for a decision, want a list", v)
	}
	out := make([]int64, len(list))
	for i, x := range list {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("the reserve script replied %T in a decision, want integers", x)
		}
		out[i] = n
	}
	return out, nil
}

// hashTag is the hash tag of a Redis key, the part between its first "{"
// and the next "}" (the whole key when it has none), which decides the
// key's Redis Cluster slot.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}
