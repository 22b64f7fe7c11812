package tokenstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Store keeps records and the per-subject refresh lock. Implementations:
// MemoryStore (one replica) and RedisStore (any number of replicas).
//
// Versions: a missing record has version 0, and every write stores version
// prev+1 only if the stored version is still prev. That compare-and-set is
// the fence that keeps a slow or partitioned replica from overwriting a newer
// pair with an older one.
type Store interface {
	// Get returns the stored record, or ErrNotFound.
	Get(ctx context.Context, subject string) (Record, error)
	// Commit stores rec if the stored version is rec.Version-1 and, when
	// owner is non-empty and requireOwner is set, the subject's lock is held
	// by owner. It releases the lock when owner holds it and tells watchers.
	// A failed condition is ErrConflict.
	Commit(ctx context.Context, rec Record, owner string, requireOwner bool) error
	// Lock takes the subject's refresh lock for owner for ttl if nobody holds it.
	Lock(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error)
	// Unlock releases the lock if owner still holds it, and tells watchers.
	Unlock(ctx context.Context, subject, owner string) error
	// Delete removes the subject's record and its pending install.
	Delete(ctx context.Context, subject string) error
	// PutPending stores rec as the subject's pending install (an install
	// waiting for an admin's confirmation) until ttl passes, replacing any
	// earlier one. It does not touch the record.
	PutPending(ctx context.Context, rec Record, ttl time.Duration) error
	// GetPending returns the subject's pending install, or ErrNotFound
	// once it was deleted or expired.
	GetPending(ctx context.Context, subject string) (Record, error)
	// DeletePending removes the subject's pending install, if any.
	DeletePending(ctx context.Context, subject string) error
	// Watch returns a channel that receives a value (without blocking the
	// sender, so signals coalesce) when the subject's record or lock changes
	// on any replica, and a function that stops the watch. Signals are a hint
	// that saves polling, not a guarantee: callers still re-read.
	Watch(subject string) (<-chan struct{}, func())
}

// watchers fans change signals out to local waiters; both stores use it.
type watchers struct {
	mu sync.Mutex
	m  map[string]map[chan struct{}]struct{}
}

func (w *watchers) add(subject string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[string]map[chan struct{}]struct{})
	}
	set := w.m[subject]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		w.m[subject] = set
	}
	set[ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.m[subject], ch)
		if len(w.m[subject]) == 0 {
			delete(w.m, subject)
		}
		w.mu.Unlock()
	}
}

func (w *watchers) notify(subject string) {
	w.mu.Lock()
	for ch := range w.m[subject] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// MemoryStore is a Store for a single replica (development and the demo).
// Records live in process memory only and are lost on restart.
type MemoryStore struct {
	now func() time.Time

	mu      sync.Mutex
	records map[string]Record
	pending map[string]memPending
	locks   map[string]memLock
	watch   watchers
}

type memPending struct {
	rec   Record
	until time.Time
}

type memLock struct {
	owner string
	until time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{now: time.Now, records: make(map[string]Record), pending: make(map[string]memPending), locks: make(map[string]memLock)}
}

func cloneRecord(r Record) Record {
	r.Scopes = append([]string(nil), r.Scopes...)
	return r
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, subject string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[subject]
	if !ok {
		return Record{}, ErrNotFound
	}
	return cloneRecord(r), nil
}

// Commit implements Store.
func (s *MemoryStore) Commit(ctx context.Context, rec Record, owner string, requireOwner bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.Version == 0 {
		return fmt.Errorf("commit %s: version must be at least 1", rec.Subject)
	}
	s.mu.Lock()
	cur := s.records[rec.Subject].Version
	if cur != rec.Version-1 {
		s.mu.Unlock()
		return fmt.Errorf("commit %s: stored version %d, expected %d: %w", rec.Subject, cur, rec.Version-1, ErrConflict)
	}
	l, held := s.lockLocked(rec.Subject)
	if requireOwner && owner != "" && (!held || l.owner != owner) {
		s.mu.Unlock()
		return fmt.Errorf("commit %s: lock not held by this refresh: %w", rec.Subject, ErrConflict)
	}
	s.records[rec.Subject] = cloneRecord(rec)
	if held && owner != "" && l.owner == owner {
		delete(s.locks, rec.Subject)
	}
	s.mu.Unlock()
	s.watch.notify(rec.Subject)
	return nil
}

func (s *MemoryStore) lockLocked(subject string) (memLock, bool) {
	l, ok := s.locks[subject]
	if ok && !s.now().Before(l.until) {
		delete(s.locks, subject)
		return memLock{}, false
	}
	return l, ok
}

// Lock implements Store.
func (s *MemoryStore) Lock(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, held := s.lockLocked(subject); held {
		return false, nil
	}
	s.locks[subject] = memLock{owner: owner, until: s.now().Add(ttl)}
	return true, nil
}

// Unlock implements Store.
func (s *MemoryStore) Unlock(ctx context.Context, subject, owner string) error {
	s.mu.Lock()
	l, held := s.lockLocked(subject)
	if held && l.owner == owner {
		delete(s.locks, subject)
	}
	s.mu.Unlock()
	s.watch.notify(subject)
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.records, subject)
	delete(s.pending, subject)
	s.mu.Unlock()
	s.watch.notify(subject)
	return nil
}

// PutPending implements Store.
func (s *MemoryStore) PutPending(ctx context.Context, rec Record, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("pending install %s: ttl must be positive", rec.Subject)
	}
	s.mu.Lock()
	s.pending[rec.Subject] = memPending{rec: cloneRecord(rec), until: s.now().Add(ttl)}
	s.mu.Unlock()
	return nil
}

// GetPending implements Store.
func (s *MemoryStore) GetPending(ctx context.Context, subject string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[subject]
	if ok && !s.now().Before(p.until) {
		delete(s.pending, subject)
		ok = false
	}
	if !ok {
		return Record{}, ErrNotFound
	}
	return cloneRecord(p.rec), nil
}

// DeletePending implements Store.
func (s *MemoryStore) DeletePending(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.pending, subject)
	s.mu.Unlock()
	return nil
}

// Watch implements Store.
func (s *MemoryStore) Watch(subject string) (<-chan struct{}, func()) { return s.watch.add(subject) }
