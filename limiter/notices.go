package limiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// noticeChannel is the Redis pub/sub channel on which the observe script
// announces every cool-down it starts or lengthens, as "app|resource end",
// end in µs on the limiter's clock.
const noticeChannel = "hlgate:rl:cool"

// noticePing is how often an idle subscription is asked for a sign of
// life. A subscription that has given none for noticeStale is not trusted:
// a connection that died without a word (a host gone, a partition) is
// noticed within that time, and callers read the cool-down from Redis
// meanwhile.
const (
	noticePing  = 250 * time.Millisecond
	noticeStale = 3 * noticePing
)

// notices is one replica's copy of the shared cool-downs, pushed by Redis.
//
// A caller that slept until its slot must not send into a cool-down another
// replica started meanwhile (a 429 HighLevel gave it). It used to read the
// cool-down from Redis when it woke, a second round trip for every queued
// call, so for every call of a location at full quota. Now the observe
// script publishes each cool-down it starts, every replica keeps a
// subscription, and a caller that wakes looks in this copy instead, on one
// condition: the subscription was confirmed before the caller's decision
// and has stayed up since (the same epoch) and alive (a message or a
// PING's answer within noticeStale). A cool-down started before the
// decision is in the decision itself (the script's floor); one started
// after it reaches this copy over the subscription, which Redis delivers
// in order. When the condition does not hold (no subscription yet, lost
// since, or silent) the caller reads Redis as before, so a lost notice
// costs a round trip, never a send into a cool-down.
//
// What this copy misses in the worst case is what the read missed too: a
// cool-down started in the moments before the caller sends (the read's
// round trip there, the notice's delivery here).
type notices struct {
	client redis.UniversalClient
	logger *slog.Logger
	stop   context.CancelFunc
	done   chan struct{}
	// now is the local clock (time.Now; tests set their own).
	now func() time.Time

	mu    sync.Mutex
	epoch uint64    // bumped on every confirmed subscription
	live  bool      // subscribed, since epoch
	heard time.Time // the subscription's last sign of life (local clock)
	cool  map[Key]int64
	// pruneAt is the size at which ended cool-downs are dropped.
	pruneAt int
}

func startNotices(client redis.UniversalClient, logger *slog.Logger, retry time.Duration) *notices {
	ctx, stop := context.WithCancel(context.Background())
	n := &notices{client: client, logger: logger, stop: stop, done: make(chan struct{}), now: time.Now,
		cool: make(map[Key]int64), pruneAt: 1024}
	go n.run(ctx, retry)
	return n
}

// close ends the subscription and waits for it.
func (n *notices) close() {
	n.stop()
	<-n.done
}

// run keeps the subscription, subscribing again after any failure (waiting
// up to retry between attempts), until ctx ends or the client is closed.
func (n *notices) run(ctx context.Context, retry time.Duration) {
	defer close(n.done)
	const first = 10 * time.Millisecond
	backoff, lost := first, false
	for {
		confirmed, err := n.subscribe(ctx, &lost)
		n.lose()
		if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}
		if confirmed {
			backoff = first
		}
		if !lost {
			n.logger.Warn("limiter: cool-down notices lost; a caller that slept reads the cool-down from Redis until they are back", errAttr(err))
			lost = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, retry)
	}
}

// subscribe holds one subscription until it fails, pinging it when idle.
// It reports whether Redis confirmed the subscription, and says so in the
// log when notices were lost before.
func (n *notices) subscribe(ctx context.Context, lost *bool) (confirmed bool, err error) {
	ps := n.client.Subscribe(ctx, noticeChannel)
	defer ps.Close()
	pinged := false
	for {
		// go-redis does not end a blocked read when ctx ends; the read's
		// timeout brings the loop back here at least every noticePing.
		if err := ctx.Err(); err != nil {
			return confirmed, err
		}
		msg, err := ps.ReceiveTimeout(ctx, noticePing)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return confirmed, err
			}
			if pinged {
				return confirmed, errors.New("limiter: cool-down subscription gave no answer to PING within " + noticePing.String())
			}
			if err := ps.Ping(ctx); err != nil {
				return confirmed, err
			}
			pinged = true
			continue
		}
		pinged = false
		now := n.now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == noticeChannel {
				n.confirm(now)
				confirmed = true
				if *lost {
					n.logger.Info("limiter: cool-down notices are back")
					*lost = false
				}
			}
		case *redis.Pong:
			n.hear(now)
		case *redis.Message:
			if !n.apply(m.Payload, now) {
				// The copy may lack a cool-down now: subscribe again, in
				// a new epoch, so no caller relies on it.
				return confirmed, fmt.Errorf("limiter: malformed cool-down notice %q", m.Payload)
			}
		}
	}
}

func (n *notices) confirm(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.epoch++
	n.live, n.heard = true, now
}

func (n *notices) hear(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.heard = now
}

func (n *notices) lose() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.live = false
}

// apply records a notice, "app|resource end", and reports whether it was
// well formed; a malformed one ends the subscription's trust.
func (n *notices) apply(payload string, now time.Time) bool {
	tag, end, ok := strings.Cut(payload, " ")
	app, resource, ok2 := strings.Cut(tag, "|")
	us, err := strconv.ParseInt(end, 10, 64)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !ok || !ok2 || err != nil {
		n.live = false
		return false
	}
	n.heard = now
	k := Key{App: app, Resource: resource}
	if us <= n.cool[k] {
		return true
	}
	if len(n.cool) >= n.pruneAt {
		// Drop the cool-downs that ended a minute ago (the minute covers
		// the distance between this clock and Redis').
		past := now.Add(-time.Minute).UnixMicro()
		for k, end := range n.cool {
			if end < past {
				delete(n.cool, k)
			}
		}
		n.pruneAt = max(1024, 2*len(n.cool))
	}
	n.cool[k] = us
	return true
}

// watch returns the epoch a caller deciding now can rely on when it wakes,
// 0 when it cannot.
func (n *notices) watch() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.live && n.now().Sub(n.heard) <= noticeStale {
		return n.epoch
	}
	return 0
}

// coolUntil returns the key's cool-down end as notified, and whether the
// copy can be relied on for a caller that decided in epoch since.
func (n *notices) coolUntil(key Key, since uint64) (int64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if since == 0 || since != n.epoch || !n.live || n.now().Sub(n.heard) > noticeStale {
		return 0, false
	}
	return n.cool[key], true
}
