package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps events in one Redis Stream per app, shared by every
// replica. The stream and the app's dedupe keys share a hash tag (the app
// id), so one script can touch them all, in a cluster too.
type RedisStore struct {
	rdb    redis.UniversalClient
	cfg    StoreConfig
	prefix string
}

var _ Store = (*RedisStore)(nil)

// DefaultRedisPrefix starts every key RedisStore writes.
const DefaultRedisPrefix = "hlgate:webhooks:"

// NewRedisStore returns a RedisStore over rdb.
func NewRedisStore(rdb redis.UniversalClient, cfg StoreConfig) (*RedisStore, error) {
	if rdb == nil {
		return nil, errors.New("webhooks: redis client is nil")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &RedisStore{rdb: rdb, cfg: cfg, prefix: DefaultRedisPrefix}, nil
}

// StreamKey is the Redis key of app's stream.
func (s *RedisStore) StreamKey(appID string) string { return s.prefix + "{" + appID + "}:events" }

func (s *RedisStore) seenKey(appID, webhookID string) string {
	return s.prefix + "{" + appID + "}:seen:" + webhookID
}

// appendScript stores an event and remembers its webhook id in one step.
// Invariant: the seen key exists only if its event was added, and it is
// checked before adding, so every replica racing on one webhook id adds it
// exactly once (scripts run one at a time). Trimming by age uses Redis's own
// clock, the clock that made the stream ids, so replicas' clocks never
// disagree about what is old.
//
// KEYS: stream, seen. ARGV: maxlen, max age ms, dedupe ttl ms, then the
// entry's field/value pairs.
var appendScript = redis.NewScript(`
local prev = redis.call('GET', KEYS[2])
if prev then return {0, prev} end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[1], '*', unpack(fields))
local t = redis.call('TIME')
local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2])
if minid > 0 then redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', minid)) end
redis.call('SET', KEYS[2], id, 'PX', ARGV[3])
return {1, id}
`)

// Stream entry fields.
const (
	fieldType     = "type"
	fieldLocation = "location"
	fieldCompany  = "company"
	fieldWebhook  = "webhook"
	fieldReceived = "received"
	fieldBody     = "body"
)

// Append implements Store.
func (s *RedisStore) Append(ctx context.Context, ev Event) (string, bool, error) {
	args := []any{
		s.cfg.MaxLen, s.cfg.MaxAge.Milliseconds(), s.cfg.DedupeTTL.Milliseconds(),
		fieldType, ev.Type, fieldLocation, ev.LocationID, fieldCompany, ev.CompanyID,
		fieldWebhook, ev.WebhookID, fieldReceived, ev.ReceiveTime.UTC().Format(time.RFC3339Nano),
		fieldBody, ev.Body,
	}
	res, err := appendScript.Run(ctx, s.rdb, []string{s.StreamKey(ev.AppID), s.seenKey(ev.AppID, ev.WebhookID)}, args...).Slice()
	if err != nil {
		return "", false, fmt.Errorf("store webhook %s: %w", ev.WebhookID, err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("store webhook %s: script answered %v", ev.WebhookID, res)
	}
	stored, _ := res[0].(int64)
	id, _ := res[1].(string)
	return id, stored == 1, nil
}

// Read implements Store.
func (s *RedisStore) Read(ctx context.Context, appID, after string, count int) ([]Event, error) {
	if count <= 0 {
		return nil, errors.New("webhooks: Read count must be positive")
	}
	start := "-"
	if after != "" && after != "0" {
		if _, err := parseStreamID(after); err != nil {
			return nil, err
		}
		start = "(" + after
	}
	msgs, err := s.rdb.XRangeN(ctx, s.StreamKey(appID), start, "+", int64(count)).Result()
	if err != nil {
		return nil, fmt.Errorf("read webhook stream: %w", err)
	}
	return decodeEntries(appID, msgs)
}

// decodeEntries reads stream entries written by Append back into events.
func decodeEntries(appID string, msgs []redis.XMessage) ([]Event, error) {
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		ev := Event{ID: m.ID, AppID: appID}
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		ev.Type, ev.LocationID, ev.CompanyID, ev.WebhookID = str(fieldType), str(fieldLocation), str(fieldCompany), str(fieldWebhook)
		ev.Body = []byte(str(fieldBody))
		var err error
		if ev.ReceiveTime, err = time.Parse(time.RFC3339Nano, str(fieldReceived)); err != nil {
			return nil, fmt.Errorf("stream entry %s: receive time: %w", m.ID, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
