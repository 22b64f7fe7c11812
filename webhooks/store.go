package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is one webhook as stored: the exact bytes HighLevel signed, and the
// envelope fields read from them.
type Event struct {
	// ID is the event's position in its app's stream ("<ms>-<seq>", as a
	// Redis Stream id); set by the store.
	ID string
	// AppID is the marketplace app the event was sent to; one stream each.
	AppID string
	// Type is the body's `type` (ContactCreate, INSTALL, …).
	Type string
	// LocationID and CompanyID are the body's `locationId` and `companyId`;
	// either may be empty (agency-level events have no location).
	LocationID, CompanyID string
	// WebhookID is the body's `webhookId`, unique per event; the dedupe key.
	WebhookID string
	// Body is the request body, byte for byte.
	Body []byte
	// ReceiveTime is when this process received the request.
	ReceiveTime time.Time
}

// Store keeps events durably, once per webhook id.
type Store interface {
	// Append stores ev in its app's stream unless an event with the same
	// WebhookID was stored within the dedupe TTL. Storing and remembering
	// the webhook id are one atomic step: an event is never stored twice,
	// and never remembered without being stored. It returns the event's
	// stream id (the earlier one for a duplicate) and whether it was stored
	// now.
	Append(ctx context.Context, ev Event) (id string, stored bool, err error)
	// Read returns up to count events of app's stream with ids after the
	// given one ("" or "0": from the start), oldest first; count must be
	// positive.
	Read(ctx context.Context, appID, after string, count int) ([]Event, error)
}

// StoreConfig bounds a store.
type StoreConfig struct {
	// MaxLen is the most events kept per app stream; older ones are trimmed.
	MaxLen int64
	// MaxAge trims events received longer ago than this.
	MaxAge time.Duration
	// DedupeTTL is how long a webhook id is remembered. It must exceed the
	// replay window plus the future skew, so a copy that passes the
	// timestamp check always finds its original.
	DedupeTTL time.Duration
}

// DefaultStoreConfig keeps a day of events, at most a million per app.
var DefaultStoreConfig = StoreConfig{MaxLen: 1_000_000, MaxAge: 24 * time.Hour, DedupeTTL: time.Hour}

func (c StoreConfig) check() error {
	if c.MaxLen <= 0 || c.MaxAge <= 0 || c.DedupeTTL <= 0 {
		return errors.New("webhooks: store MaxLen, MaxAge and DedupeTTL must be positive")
	}
	return nil
}

// streamID is a parsed "<ms>-<seq>" id.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, error) {
	if s == "" || s == "0" {
		return streamID{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return streamID{}, fmt.Errorf("stream id %q: %w", s, err)
	}
	var seq uint64
	if ok {
		if seq, err = strconv.ParseUint(b, 10, 64); err != nil {
			return streamID{}, fmt.Errorf("stream id %q: %w", s, err)
		}
	}
	return streamID{ms, seq}, nil
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

func (a streamID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// MemoryStore keeps events in this process: one replica, lost on exit. It is
// for `make run` and tests; production uses RedisStore.
type MemoryStore struct {
	cfg StoreConfig
	now func() time.Time

	mu      sync.Mutex
	streams map[string][]memEntry
	last    map[string]streamID
	seen    map[string]memSeen // app + "\x00" + webhook id
	appends int
	// wakers are closed by the next Append to their app, for MemoryGroups'
	// waiting streams.
	wakers map[string]chan struct{}
}

type memEntry struct {
	id streamID
	ev Event
}

type memSeen struct {
	id      string
	expires time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore; now is its clock (time.Now
// when nil).
func NewMemoryStore(cfg StoreConfig, now func() time.Time) (*MemoryStore, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{cfg: cfg, now: now, streams: map[string][]memEntry{}, last: map[string]streamID{}, seen: map[string]memSeen{}, wakers: map[string]chan struct{}{}}, nil
}

// Append implements Store.
func (s *MemoryStore) Append(ctx context.Context, ev Event) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	key := ev.AppID + "\x00" + ev.WebhookID
	if prev, ok := s.seen[key]; ok && now.Before(prev.expires) {
		return prev.id, false, nil
	}
	// Ids grow like Redis's: the clock's milliseconds, or the last id's
	// sequence plus one when the clock has not moved past it.
	id := streamID{ms: uint64(now.UnixMilli())}
	if last := s.last[ev.AppID]; !last.less(id) {
		id = streamID{ms: last.ms, seq: last.seq + 1}
	}
	s.last[ev.AppID] = id
	ev.ID = id.String()
	ev.Body = append([]byte(nil), ev.Body...)
	entries := append(s.streams[ev.AppID], memEntry{id: id, ev: ev})
	minMS := uint64(max(now.Add(-s.cfg.MaxAge).UnixMilli(), 0))
	drop := 0
	for drop < len(entries) && (int64(len(entries)-drop) > s.cfg.MaxLen || entries[drop].id.ms < minMS) {
		drop++
	}
	// Trimmed entries are cleared (their bodies freed) and the slice is
	// resliced, not copied: a copy per append made n appends cost n².
	// The next growth of the slice copies only what remains.
	clear(entries[:drop])
	s.streams[ev.AppID] = entries[drop:]
	s.seen[key] = memSeen{id: ev.ID, expires: now.Add(s.cfg.DedupeTTL)}
	if w, ok := s.wakers[ev.AppID]; ok {
		close(w)
		delete(s.wakers, ev.AppID)
	}
	// Forget expired ids now and then, not on every append: the sweep is
	// linear in the ids remembered.
	if s.appends++; s.appends%1024 == 0 {
		for k, v := range s.seen {
			if !now.Before(v.expires) {
				delete(s.seen, k)
			}
		}
	}
	return ev.ID, true, nil
}

// Read implements Store.
func (s *MemoryStore) Read(ctx context.Context, appID, after string, count int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if count <= 0 {
		return nil, errors.New("webhooks: Read count must be positive")
	}
	from, err := parseStreamID(after)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	entries := s.streams[appID]
	for _, e := range entries[firstIndexAfter(entries, from):] {
		if len(out) >= count {
			break
		}
		ev := e.ev
		ev.Body = append([]byte(nil), ev.Body...)
		out = append(out, ev)
	}
	return out, nil
}

// firstIndexAfter is the index of the first of entries (ordered by id) whose id is
// greater than id: a binary search, so that a stream read from its middle
// does not walk what it has read already.
func firstIndexAfter(entries []memEntry, id streamID) int {
	i, _ := slices.BinarySearchFunc(entries, id, func(e memEntry, id streamID) int {
		if id.less(e.id) {
			return 1
		}
		return -1
	})
	return i
}

// changed returns a channel closed by the next Append to app's stream.
func (s *MemoryStore) changed(appID string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.wakers[appID]
	if !ok {
		w = make(chan struct{})
		s.wakers[appID] = w
	}
	return w
}

// entry returns the event of app's stream with id, if the stream still
// holds it.
func (s *MemoryStore) entry(appID string, id streamID) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := s.streams[appID]
	i, ok := slices.BinarySearchFunc(entries, id, func(e memEntry, id streamID) int {
		switch {
		case e.id.less(id):
			return -1
		case id.less(e.id):
			return 1
		}
		return 0
	})
	if !ok {
		return Event{}, false
	}
	ev := entries[i].ev
	ev.Body = append([]byte(nil), ev.Body...)
	return ev, true
}

// lastID is the id of the last event appended to app's stream (zero: none).
func (s *MemoryStore) lastID(appID string) streamID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[appID]
}

// firstAfter is the id of the first event app's stream holds after id.
func (s *MemoryStore) firstAfter(appID string, id streamID) (streamID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := s.streams[appID]
	if i := firstIndexAfter(entries, id); i < len(entries) {
		return entries[i].id, true
	}
	return streamID{}, false
}
