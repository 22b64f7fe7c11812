package tokenstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hlgate/hlgate/internal/redistest"
)

// TestCheckEvictionPolicy runs the check against real redis-servers
// started with each kind of policy, and one that refuses CONFIG.
func TestCheckEvictionPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want error // nil: passes
	}{
		{"noeviction", []string{"--maxmemory-policy", "noeviction"}, nil},
		{"volatile-lru", []string{"--maxmemory-policy", "volatile-lru"}, nil},
		{"allkeys-lru", []string{"--maxmemory-policy", "allkeys-lru"}, ErrEvictionPolicy},
		{"allkeys-random", []string{"--maxmemory-policy", "allkeys-random"}, ErrEvictionPolicy},
		{"CONFIG renamed away", []string{"--rename-command", "CONFIG", ""}, ErrEvictionPolicyUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{Args: tt.args})
			err := CheckEvictionPolicy(context.Background(), srv.Client())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckEvictionPolicy = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckEvictionPolicy = %v, want %v", err, tt.want)
			}
			if tt.want == ErrEvictionPolicy && (!strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), srv.Addr())) {
				t.Fatalf("error %q does not name the policy %s and the server", err, tt.name)
			}
			if tt.want == ErrEvictionPolicy && errors.Is(err, ErrEvictionPolicyUnknown) {
				t.Fatal("an allkeys policy is reported as unknown")
			}
		})
	}
}

// TestCheckEvictionPolicyCluster checks every master through a real
// ClusterClient.
func TestCheckEvictionPolicyCluster(t *testing.T) {
	t.Parallel()
	if err := CheckEvictionPolicy(context.Background(), startCluster(t)); err != nil {
		t.Fatalf("cluster with the default policy: %v", err)
	}
	err := CheckEvictionPolicy(context.Background(), startCluster(t, "--maxmemory-policy", "allkeys-lfu"))
	if !errors.Is(err, ErrEvictionPolicy) || !strings.Contains(err.Error(), "allkeys-lfu") {
		t.Fatalf("cluster with allkeys-lfu: %v, want ErrEvictionPolicy naming it", err)
	}
}

// TestCheckEvictionPolicyUnreachable: a server that is down is a store
// error, not a verdict on the policy.
func TestCheckEvictionPolicyUnreachable(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	srv.Stop()
	err := CheckEvictionPolicy(context.Background(), c)
	if !errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrEvictionPolicy) || errors.Is(err, ErrEvictionPolicyUnknown) {
		t.Fatalf("unreachable Redis: %v, want ErrStoreUnavailable only", err)
	}
}
