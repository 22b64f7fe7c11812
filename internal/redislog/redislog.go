// Package redislog routes go-redis's own log lines (dial failures, pool
// events) into a structured log. go-redis writes them with the standard
// logger by default: plain text on stderr, in the middle of hlgate's JSON
// log stream, and dozens of them in tests that stop Redis on purpose.
package redislog

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Logger is a go-redis logger (redis.SetLogger) that writes each line to an
// slog.Logger as a warning: everything go-redis logs is about a connection
// that failed or misbehaved.
type Logger struct{ l *slog.Logger }

// New returns a Logger writing to l.
func New(l *slog.Logger) Logger { return Logger{l: l} }

// Printf implements go-redis's logging interface.
func (g Logger) Printf(ctx context.Context, format string, v ...any) {
	g.l.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("component", "go-redis"), slog.String("detail", fmt.Sprintf(format, v...)))
}

// Use makes l the destination of every go-redis client's lines in the
// process (go-redis has one logger per process).
func Use(l *slog.Logger) { redis.SetLogger(New(l)) }

// Router sends each go-redis line to the destination registered for the
// port it mentions, so a test's line lands in that test's log; lines that
// mention no registered port go to the fallback. The zero value is not
// usable; see NewRouter.
type Router struct {
	mu       sync.RWMutex
	routes   map[int]func(string)
	fallback func(string)
}

// NewRouter returns a Router whose unmatched lines go to fallback.
func NewRouter(fallback func(string)) *Router {
	return &Router{routes: map[int]func(string){}, fallback: fallback}
}

// Route sends lines that mention addr's port to dst until the returned
// function is called. dst is never called after that function returns.
func (r *Router) Route(addr string, dst func(string)) (remove func()) {
	_, p, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		return func() {}
	}
	r.mu.Lock()
	r.routes[port] = dst
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.routes, port)
		r.mu.Unlock()
	}
}

var portPattern = regexp.MustCompile(`:(\d{2,5})\b`)

// Printf implements go-redis's logging interface.
func (r *Router) Printf(_ context.Context, format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	r.mu.RLock()
	defer r.mu.RUnlock() // held while dst runs, so Route's remove waits for it
	for _, m := range portPattern.FindAllStringSubmatch(line, -1) {
		if port, err := strconv.Atoi(m[1]); err == nil {
			if dst := r.routes[port]; dst != nil {
				dst(line)
				return
			}
		}
	}
	r.fallback(line)
}
