package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store in Redis, shared by every replica. It takes a
// go-redis UniversalClient, so a single server, Sentinel and Redis Cluster
// all work: a subject's record and lock share the hash tag {subject}, so the
// scripts that touch both run on one node.
//
// Layout, per subject:
//
//	hlgate:token:{<subject>}       hash  v (version), kid (key id), ct (nonce||AES-GCM ciphertext)
//	hlgate:token:{<subject>}:lock  string  random owner of the refresh lock, with a TTL
//	hlgate:token:{<subject>}:pending  hash  v, kid, ct of an install waiting for an
//	                                       admin's confirmation, with a TTL
//
// and one channel, hlgate:token:changes, that carries the subject of every
// write or unlock so waiting replicas wake at once instead of polling.
//
// Records carry no TTL: the stored refresh token is the only valid one, and
// losing it means reinstalling the app. Run Redis with maxmemory-policy
// noeviction (or a volatile-* policy, which never evicts keys without a TTL)
// and with AOF on.
type RedisStore struct {
	rdb  redis.UniversalClient
	keys *Keyring
	log  *slog.Logger

	watch     watchers
	subOnce   sync.Once
	sub       *redis.PubSub
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

var _ Store = (*RedisStore)(nil)

// ChangesChannel is the Redis channel that announces record and lock changes.
const ChangesChannel = "hlgate:token:changes"

// RecordKey is the Redis key of a subject's record; it is also the associated
// data of the record's ciphertext.
func RecordKey(subject string) string { return "hlgate:token:{" + subject + "}" }

func lockKey(subject string) string { return RecordKey(subject) + ":lock" }

// pendingKey is the Redis key of a subject's pending install; it is also
// the associated data of its ciphertext, so it cannot be moved to the
// record's key.
func pendingKey(subject string) string { return RecordKey(subject) + ":pending" }

// OpenStore returns the store the serve command runs with: a MemoryStore
// when rdb is nil (one replica), else a RedisStore encrypting with the keys
// of HLGATE_TOKEN_KEY and HLGATE_TOKEN_OLD_KEYS. With Redis and no key it
// fails: records in a shared store are never written in clear.
func OpenStore(rdb redis.UniversalClient, tokenKey, oldKeys string, log *slog.Logger) (Store, error) {
	if rdb == nil {
		return NewMemoryStore(), nil
	}
	if strings.TrimSpace(tokenKey) == "" {
		return nil, errors.New("HLGATE_TOKEN_KEY is required when a Redis URL is set: records are encrypted before they reach Redis (generate one with `openssl rand -base64 32`)")
	}
	keys, err := ParseKeys(tokenKey, oldKeys)
	if err != nil {
		return nil, err
	}
	return NewRedisStore(rdb, keys, log)
}

// NewRedisStore returns a store over rdb that encrypts with keys. The caller
// owns rdb; Close stops only the store's subscription. log may be nil.
func NewRedisStore(rdb redis.UniversalClient, keys *Keyring, log *slog.Logger) (*RedisStore, error) {
	if rdb == nil {
		return nil, errors.New("tokenstore: redis client is nil")
	}
	if keys == nil {
		return nil, errors.New("tokenstore: a token encryption key is required with Redis (HLGATE_TOKEN_KEY)")
	}
	if log == nil {
		log = slog.Default()
	}
	return &RedisStore{rdb: rdb, keys: keys, log: log, done: make(chan struct{})}, nil
}

// commitScript writes a new version of a record. It keeps two invariants:
// the stored version only ever grows by one from the version the writer read
// (so no replica overwrites a pair it did not see), and a strict write only
// lands while the writer still owns the refresh lock. It releases the lock if
// the writer owns it and announces the change.
//
// KEYS: record, lock. ARGV: expected version, owner, strict ("1"/"0"), new
// version, key id, ciphertext, channel, subject.
var commitScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then v = '0' end
if v ~= ARGV[1] then return 0 end
local o = redis.call('GET', KEYS[2])
if ARGV[3] == '1' and o ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'v', ARGV[4], 'kid', ARGV[5], 'ct', ARGV[6])
if ARGV[2] ~= '' and o == ARGV[2] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
`)

// unlockScript deletes the lock only if the caller still owns it: a lock that
// expired and was taken by another replica must not be released by us.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, subject string) (Record, error) {
	key := RecordKey(subject)
	vals, err := s.rdb.HMGet(ctx, key, "v", "kid", "ct").Result()
	if err != nil {
		return Record{}, fmt.Errorf("read record %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	rec, err := s.open(subject, key, vals)
	if err != nil {
		return Record{}, fmt.Errorf("record %s: %w", subject, err)
	}
	return rec, nil
}

// open decrypts the v, kid, ct fields of a record (or pending install)
// stored at key: ErrNotFound when there is none, ErrDecrypt when it is not
// the subject's or not intact.
func (s *RedisStore) open(subject, key string, vals []any) (Record, error) {
	if len(vals) != 3 || vals[0] == nil {
		return Record{}, ErrNotFound
	}
	vs, _ := vals[0].(string)
	kid, _ := vals[1].(string)
	ct, _ := vals[2].(string)
	version, err := strconv.ParseUint(vs, 10, 64)
	if err != nil {
		return Record{}, fmt.Errorf("%w: bad version field", ErrDecrypt)
	}
	rec, err := s.keys.openRecord(kid, []byte(ct), key, version)
	if err != nil {
		return Record{}, err
	}
	if rec.Subject != subject {
		return Record{}, fmt.Errorf("%w: subject mismatch", ErrDecrypt)
	}
	return rec, nil
}

// Commit implements Store.
func (s *RedisStore) Commit(ctx context.Context, rec Record, owner string, requireOwner bool) error {
	if rec.Version == 0 {
		return fmt.Errorf("commit %s: version must be at least 1", rec.Subject)
	}
	key := RecordKey(rec.Subject)
	kid, ct, err := s.keys.sealRecord(&rec, key)
	if err != nil {
		return fmt.Errorf("commit %s: %w", rec.Subject, err)
	}
	strict := "0"
	if requireOwner && owner != "" {
		strict = "1"
	}
	res, err := commitScript.Run(ctx, s.rdb, []string{key, lockKey(rec.Subject)},
		strconv.FormatUint(rec.Version-1, 10), owner, strict,
		strconv.FormatUint(rec.Version, 10), kid, ct, ChangesChannel, rec.Subject).Int()
	if err != nil {
		return fmt.Errorf("commit %s: %w: %w", rec.Subject, ErrStoreUnavailable, err)
	}
	switch res {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("commit %s: stored version is not %d: %w", rec.Subject, rec.Version-1, ErrConflict)
	default:
		return fmt.Errorf("commit %s: lock not held by this refresh: %w", rec.Subject, ErrConflict)
	}
}

// Lock implements Store.
func (s *RedisStore) Lock(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, lockKey(subject), owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("lock %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	return ok, nil
}

// Unlock implements Store.
func (s *RedisStore) Unlock(ctx context.Context, subject, owner string) error {
	if err := unlockScript.Run(ctx, s.rdb, []string{lockKey(subject)}, owner, ChangesChannel, subject).Err(); err != nil {
		return fmt.Errorf("unlock %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	return nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, subject string) error {
	// One DEL of two keys of one hash tag: a single slot, also in a cluster.
	if err := s.rdb.Del(ctx, RecordKey(subject), pendingKey(subject)).Err(); err != nil {
		return fmt.Errorf("delete %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	if err := s.rdb.Publish(ctx, ChangesChannel, subject).Err(); err != nil {
		// The record is gone; waiters poll and will notice.
		s.log.WarnContext(ctx, "tokenstore: announce delete", "subject", subject, "error", err)
	}
	return nil
}

// PutPending implements Store. The pending install is encrypted like a
// record and expires by itself.
func (s *RedisStore) PutPending(ctx context.Context, rec Record, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("pending install %s: ttl must be positive", rec.Subject)
	}
	key := pendingKey(rec.Subject)
	kid, ct, err := s.keys.sealRecord(&rec, key)
	if err != nil {
		return fmt.Errorf("pending install %s: %w", rec.Subject, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, "v", strconv.FormatUint(rec.Version, 10), "kid", kid, "ct", ct)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pending install %s: %w: %w", rec.Subject, ErrStoreUnavailable, err)
	}
	return nil
}

// GetPending implements Store.
func (s *RedisStore) GetPending(ctx context.Context, subject string) (Record, error) {
	key := pendingKey(subject)
	vals, err := s.rdb.HMGet(ctx, key, "v", "kid", "ct").Result()
	if err != nil {
		return Record{}, fmt.Errorf("read pending install %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	rec, err := s.open(subject, key, vals)
	if err != nil {
		return Record{}, fmt.Errorf("pending install %s: %w", subject, err)
	}
	return rec, nil
}

// DeletePending implements Store.
func (s *RedisStore) DeletePending(ctx context.Context, subject string) error {
	if err := s.rdb.Del(ctx, pendingKey(subject)).Err(); err != nil {
		return fmt.Errorf("delete pending install %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	return nil
}

// Watch implements Store. The first call subscribes to ChangesChannel; the
// subscription reconnects by itself after a Redis outage.
func (s *RedisStore) Watch(subject string) (<-chan struct{}, func()) {
	s.subOnce.Do(s.subscribe)
	return s.watch.add(subject)
}

func (s *RedisStore) subscribe() {
	s.sub = s.rdb.Subscribe(context.Background(), ChangesChannel)
	// Wait for the server's confirmation so that a change made right after
	// the first Watch is not missed. If Redis is down the subscription is
	// retried in the background and waiters poll meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if _, err := s.sub.Receive(ctx); err != nil {
		s.log.Warn("tokenstore: subscribe to token changes", "error", err)
	}
	cancel()
	ch := s.sub.Channel()
	go func() {
		defer close(s.done)
		for msg := range ch {
			s.watch.notify(strings.TrimSpace(msg.Payload))
		}
	}()
}

// Close stops the store's subscription; Watch must not be called after it.
// It does not close the client.
func (s *RedisStore) Close() error {
	s.subOnce.Do(func() {}) // no subscription may start after Close
	s.closeOnce.Do(func() {
		if s.sub != nil {
			s.closeErr = s.sub.Close()
			<-s.done
		}
	})
	return s.closeErr
}

// Version returns the stored version of a subject's record without
// decrypting it (0 when there is none), so a record whose key was lost can
// still be replaced by a new install.
func (s *RedisStore) Version(ctx context.Context, subject string) (uint64, error) {
	v, err := s.rdb.HGet(ctx, RecordKey(subject), "v").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read version %s: %w: %w", subject, ErrStoreUnavailable, err)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("record %s: bad version: %w", subject, ErrDecrypt)
	}
	return n, nil
}
