package redistest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook that counts what a client sends: one round
// trip per command sent on its own, one per pipeline. It keeps each round
// trip's commands, so that a test that counted one too many can say which.
//
// A new connection's handshake is left out. go-redis sends it through the
// client's hooks (HELLO, CLIENT MAINT_NOTIFICATIONS, a pipeline of CLIENT
// SETINFO) whenever its pool dials, and a subscription dials in the
// background: counted, it lands in whatever call a test is measuring at
// that moment. It is the pool's cost, paid once per connection, not a
// call's.
type RoundTrips struct {
	mu    sync.Mutex
	trips []string
}

// Count is the number of round trips so far.
func (h *RoundTrips) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.trips)
}

// Since returns the round trips after the first n, each as its commands'
// names (with a script's digest or a command's first key).
func (h *RoundTrips) Since(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.trips[min(n, len(h.trips)):])
}

// DialHook implements redis.Hook.
func (h *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.add(commandName(cmd))
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, 0, len(cmds))
		for _, c := range cmds {
			if !handshake(c) {
				names = append(names, commandName(c))
			}
		}
		if len(names) > 0 {
			h.add("pipeline(" + strings.Join(names, "; ") + ")")
		}
		return next(ctx, cmds)
	}
}

func (h *RoundTrips) add(trip string) {
	h.mu.Lock()
	h.trips = append(h.trips, trip)
	h.mu.Unlock()
}

// handshake reports whether cmd is one go-redis sends to set up a new
// connection. hlgate itself sends none of these.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "readonly":
		return true
	case "client":
		args := cmd.Args()
		if len(args) < 2 {
			return false
		}
		switch strings.ToLower(fmt.Sprint(args[1])) {
		case "setinfo", "setname", "maint_notifications", "tracking":
			return true
		}
	}
	return false
}

// commandName is a command's name and its first argument, which tells
// scripts (by digest) and keys apart.
func commandName(cmd redis.Cmder) string {
	if args := cmd.Args(); len(args) > 1 {
		return fmt.Sprint(args[0], " ", args[1])
	}
	return cmd.Name()
}
