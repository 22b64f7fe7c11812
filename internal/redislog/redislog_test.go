package redislog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestLoggerWritesJSONWarnings(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(slog.New(slog.NewJSONHandler(&buf, nil))).Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "dial tcp 127.0.0.1:6390: connect: connection refused")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if line["level"] != "WARN" || line["component"] != "go-redis" || !strings.Contains(line["detail"].(string), "failed to dial after 5 attempts") {
		t.Fatalf("line = %v", line)
	}
}

func TestRouterSendsLinesToThePortsOwner(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]string{}
	add := func(who string) func(string) {
		return func(l string) { mu.Lock(); got[who] = append(got[who], l); mu.Unlock() }
	}
	r := NewRouter(add("fallback"))
	removeA := r.Route("127.0.0.1:41001", add("a"))
	r.Route("127.0.0.1:41002", add("b"))
	r.Printf(context.Background(), "failed to dial: dial tcp %s: refused", "127.0.0.1:41001")
	r.Printf(context.Background(), "failed to dial: dial tcp %s: refused", "127.0.0.1:41002")
	r.Printf(context.Background(), "pool event with no address")
	removeA()
	r.Printf(context.Background(), "late line about 127.0.0.1:41001")
	if len(got["a"]) != 1 || len(got["b"]) != 1 || len(got["fallback"]) != 2 {
		t.Fatalf("routed: %v", got)
	}
}
