package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRestartKeepsAOFData(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{AOF: true})
	ctx := context.Background()
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded while the server was stopped")
	}
	s.Restart()
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET after restart = %q, %v; want \"v\"", got, err)
	}
}

func TestServersAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := Start(t, Options{}), Start(t, Options{})
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
}

// A cluster of three masters with a replica each, every slot served; keys
// of different hash tags land on different masters, and a client reaches
// all of them.
func TestStartCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	ctx := context.Background()
	cc := c.Client()
	masters := map[string]bool{}
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.Ping(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		key := fmt.Sprintf("{tag%d}:k", i)
		if err := cc.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		m, err := c.MasterOf(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		masters[m] = true
	}
	if len(masters) != 3 {
		t.Errorf("30 hash tags landed on %d masters, want 3: %v", len(masters), masters)
	}
	nodes, err := cc.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(nodes, "slave"); n != 3 {
		t.Errorf("%d replicas in CLUSTER NODES, want 3:\n%s", n, nodes)
	}
}

// RoundTrips counts a command sent on its own and a pipeline as one round
// trip each, and leaves out the handshake of every connection the pool
// dials, a subscription's too.
func TestRoundTripsLeaveOutHandshakes(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.Client()
	hook := &RoundTrips{}
	c.AddHook(hook)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil { // dials: a handshake
		t.Fatalf("SET: %v", err)
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "k")
		p.Incr(ctx, "n")
		return nil
	}); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	ps := c.Subscribe(ctx, "ch") // its own connection: another handshake
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	_ = ps.Close()
	want := []string{"set k", "pipeline(get k; incr n)"}
	if got := hook.Since(0); fmt.Sprint(got) != fmt.Sprint(want) || hook.Count() != len(want) {
		t.Errorf("round trips %q (count %d), want %q", got, hook.Count(), want)
	}
	if got := hook.Since(1); fmt.Sprint(got) != fmt.Sprint(want[1:]) {
		t.Errorf("Since(1) = %q, want %q", got, want[1:])
	}
}
