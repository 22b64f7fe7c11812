package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// ErrEvictionPolicy means a Redis server runs with a maxmemory-policy that
// may evict token records (allkeys-*): records carry no TTL and hold the
// only valid refresh token, so an eviction silently uninstalls a location.
var ErrEvictionPolicy = errors.New("tokenstore: Redis maxmemory-policy may evict token records")

// ErrEvictionPolicyUnknown means the policy could not be read because the
// server refused CONFIG GET (managed Redis services often rename or forbid
// it). The check then proves nothing either way; the operator must make
// sure the policy is noeviction or volatile-*.
var ErrEvictionPolicyUnknown = errors.New("tokenstore: Redis maxmemory-policy cannot be read")

// CheckEvictionPolicy reads maxmemory-policy on every server that holds
// token records (each master of a cluster, each shard of a ring) and
// returns an error wrapping ErrEvictionPolicy, naming the policy and the
// server, when one of them runs an allkeys-* policy. noeviction and the
// volatile-* policies pass: they never evict keys without a TTL.
//
// A server that refuses CONFIG GET yields an error wrapping
// ErrEvictionPolicyUnknown rather than nil, so the caller decides: the
// serve command logs it as a warning and starts; treat ErrEvictionPolicy as
// the one that must be fixed. An unreachable server wraps
// ErrStoreUnavailable.
func CheckEvictionPolicy(ctx context.Context, rdb redis.UniversalClient) error {
	if rdb == nil {
		return errors.New("check eviction policy: redis client is nil")
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	each := func(ctx context.Context, c *redis.Client) error {
		if err := checkNodePolicy(ctx, c, c.Options().Addr); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return nil
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, each)
	case *redis.Ring:
		err = c.ForEachShard(ctx, each)
	case *redis.Client:
		err = each(ctx, c)
	default:
		err = checkNodePolicy(ctx, rdb, "redis")
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("check eviction policy: %w: %w", ErrStoreUnavailable, err))
	}
	return errors.Join(errs...)
}

// checkNodePolicy checks one server; addr names it in the error.
func checkNodePolicy(ctx context.Context, c redis.Cmdable, addr string) error {
	vals, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	var rerr redis.Error
	switch {
	case errors.As(err, &rerr):
		// A reply from the server, such as an unknown (renamed) command
		// or a NOPERM from an ACL: it will not tell us.
		return fmt.Errorf("redis %s: CONFIG GET maxmemory-policy refused (%s): %w", addr, rerr.Error(), ErrEvictionPolicyUnknown)
	case err != nil:
		return fmt.Errorf("redis %s: CONFIG GET maxmemory-policy: %w: %w", addr, ErrStoreUnavailable, err)
	}
	policy, ok := vals["maxmemory-policy"]
	if !ok {
		return fmt.Errorf("redis %s: CONFIG GET maxmemory-policy answered nothing: %w", addr, ErrEvictionPolicyUnknown)
	}
	if strings.HasPrefix(strings.ToLower(policy), "allkeys-") {
		return fmt.Errorf("redis %s: maxmemory-policy is %s, which can evict token records and lose their only valid refresh token; use noeviction (or a volatile-* policy): %w",
			addr, policy, ErrEvictionPolicy)
	}
	return nil
}
