package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Delivery hands the events of one app's stream to subscriptions: durable
// named cursors, each getting every event of its definition once, shared by
// any number of streams (Subscribers), with explicit acks and redelivery of
// what is not acknowledged within the subscription's ack deadline.
//
// It is one loop (Subscriber.Next) over a groups backend: Redis consumer
// groups on the app's stream (RedisGroups), shared by every replica, or the
// same semantics in this process (MemoryGroups).
type Delivery struct {
	g   groups
	cfg DeliveryConfig
	m   *DeliveryMetrics
	log *slog.Logger

	// consumers names this process's streams: a random prefix, so two
	// replicas never share a consumer, and a counter.
	prefix string
	next   atomic.Uint64

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Defaults of DeliveryConfig and of a Definition.
const (
	DefaultAckDeadline      = 30 * time.Second
	MinAckDeadline          = time.Second
	MaxAckDeadline          = time.Hour
	DefaultBatch            = 32
	DefaultPollInterval     = time.Second
	DefaultMaxSubscriptions = 100
)

// DeliveryConfig tunes a Delivery.
type DeliveryConfig struct {
	// Batch is the most events one Next returns.
	Batch int
	// PollInterval bounds how long a waiting stream goes without looking
	// for events whose ack deadline passed (and for new events, should a
	// wake-up be missed). Redelivery happens within the deadline plus this.
	PollInterval time.Duration
	// MaxSubscriptions bounds the subscriptions of the app: each keeps
	// state in the store for as long as the stream exists, and names a
	// metric series.
	MaxSubscriptions int
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics; unregistered ones when nil.
	Metrics *DeliveryMetrics
}

// groups is what a Delivery needs of its backend: consumer groups over the
// app's stream. Event ids are stream ids; every method is safe for
// concurrent use, by streams of this process and of other replicas alike.
type groups interface {
	// open creates subscription name with def (its encoding), or checks
	// def against the definition it was created with. It returns the
	// subscription's definition; a different one is *MismatchError.
	open(ctx context.Context, name string, def Definition, maxSubs int) error
	// definition returns the definition of an existing subscription, or
	// ErrNoSubscription.
	definition(ctx context.Context, name string) (Definition, error)
	// claim gives consumer up to count events of the subscription that
	// were delivered at least minIdle ago and not acknowledged, starting
	// at cursor ("0-0": the start); their deadline starts again. gone are
	// the ids of such events the stream no longer holds (trimmed), which
	// the subscription forgets. next is the cursor for the next call.
	claim(ctx context.Context, name, consumer string, minIdle time.Duration, cursor string, count int) (evs []Event, gone []string, next string, err error)
	// readNew gives consumer up to count events the subscription has not
	// delivered yet, oldest first, without waiting.
	readNew(ctx context.Context, name, consumer string, count int) ([]Event, error)
	// ack acknowledges ids on the subscription and returns how many were
	// unacknowledged; unknown ids change nothing.
	ack(ctx context.Context, name string, ids []string) (int64, error)
	// leave forgets consumer when it holds no unacknowledged event (they
	// stay with it until another stream claims them).
	leave(ctx context.Context, name, consumer string) error
	// wake returns a channel closed when events may have been added to the
	// stream after the call.
	wake() <-chan struct{}
	// backlogs describes every subscription, for the metrics.
	backlogs(ctx context.Context) ([]Backlog, error)
	// close stops what the backend runs in the background.
	close()
}

// Backlog is what a subscription has not had acknowledged.
type Backlog struct {
	Subscription string
	// Unacked counts events delivered and not acknowledged.
	Unacked int64
	// OldestUnacked is the age of the oldest event received and not yet
	// acknowledged, delivered or not (0: none).
	OldestUnacked time.Duration
}

// Errors of Subscribe and Ack; the server maps them to gRPC status.
var (
	// ErrNoSubscription: no stream has created the subscription.
	ErrNoSubscription = errors.New("webhooks: no such subscription")
	// ErrSubscriptionLimit: the app has MaxSubscriptions subscriptions.
	ErrSubscriptionLimit = errors.New("webhooks: too many subscriptions")
	// ErrUnavailable wraps a store failure: retrying may succeed.
	ErrUnavailable = errors.New("webhooks: event store unavailable")
	// ErrClosed: the Delivery was closed (the server is stopping).
	ErrClosed = errors.New("webhooks: delivery closed")
)

// MismatchError refuses a stream whose definition differs from the one its
// subscription was created with.
type MismatchError struct {
	Subscription string
	Have, Asked  Definition
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("subscription %q was created with %s; this stream asks for %s", e.Subscription, e.Have, e.Asked)
}

// subscriptionName is the shape of a subscription's name; it becomes part
// of a Redis key and a metric label, so it is short and plain.
var subscriptionName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidSubscriptionName reports whether name may name a subscription: 1 to
// 64 letters, digits, '.', '_' or '-'.
func ValidSubscriptionName(name string) bool { return subscriptionName.MatchString(name) }

// ValidEventID reports whether id is an event id ("<ms>-<seq>").
func ValidEventID(id string) bool {
	a, b, ok := strings.Cut(id, "-")
	if !ok || a == "" || b == "" {
		return false
	}
	_, err := parseStreamID(id)
	return err == nil
}

// Definition is what a subscription gets. It is fixed when the subscription
// is created: every stream of one subscription must ask for the same, so no
// stream reads (and acknowledges) an event another stream of the
// subscription was meant to get.
type Definition struct {
	// Types are the event types it gets; empty: every type.
	Types []string `json:"types,omitempty"`
	// AllLocations: events of every location and of none (agency-level).
	// Otherwise only events of Locations.
	AllLocations bool     `json:"all_locations,omitempty"`
	Locations    []string `json:"locations,omitempty"`
	// AckDeadline is how long a delivered event waits for its ack.
	AckDeadline time.Duration `json:"ack_deadline_ms"`
	// FromEarliest: a new subscription starts at the oldest event kept;
	// otherwise at the events received after it is created.
	FromEarliest bool `json:"from_earliest,omitempty"`
}

// normalized is d with sorted, distinct lists and the default deadline, so
// two spellings of one definition compare equal.
func (d Definition) normalized() Definition {
	norm := func(s []string) []string {
		out := slices.Clone(s)
		slices.Sort(out)
		return slices.Compact(out)
	}
	d.Types = norm(d.Types)
	d.Locations = norm(d.Locations)
	if d.AllLocations {
		d.Locations = nil
	}
	if d.AckDeadline == 0 {
		d.AckDeadline = DefaultAckDeadline
	}
	return d
}

func (d Definition) check() error {
	if !d.AllLocations && len(d.Locations) == 0 {
		return errors.New("webhooks: a definition needs locations or AllLocations")
	}
	if d.AckDeadline < MinAckDeadline || d.AckDeadline > MaxAckDeadline || d.AckDeadline%time.Millisecond != 0 {
		return fmt.Errorf("webhooks: ack deadline %s is not whole milliseconds in [%s, %s]", d.AckDeadline, MinAckDeadline, MaxAckDeadline)
	}
	return nil
}

// encode is the stored form: JSON of the normalized definition, with the
// deadline in milliseconds.
func (d Definition) encode() string {
	n := d.normalized()
	b, _ := json.Marshal(struct {
		Types        []string `json:"types,omitempty"`
		AllLocations bool     `json:"all_locations,omitempty"`
		Locations    []string `json:"locations,omitempty"`
		AckDeadline  int64    `json:"ack_deadline_ms"`
		FromEarliest bool     `json:"from_earliest,omitempty"`
	}{n.Types, n.AllLocations, n.Locations, n.AckDeadline.Milliseconds(), n.FromEarliest})
	return string(b)
}

func decodeDefinition(s string) (Definition, error) {
	var raw struct {
		Types        []string `json:"types"`
		AllLocations bool     `json:"all_locations"`
		Locations    []string `json:"locations"`
		AckDeadline  int64    `json:"ack_deadline_ms"`
		FromEarliest bool     `json:"from_earliest"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return Definition{}, fmt.Errorf("stored subscription definition: %w", err)
	}
	return Definition{Types: raw.Types, AllLocations: raw.AllLocations, Locations: raw.Locations,
		AckDeadline: time.Duration(raw.AckDeadline) * time.Millisecond, FromEarliest: raw.FromEarliest}, nil
}

// String says what the definition gets, for error messages.
func (d Definition) String() string {
	n := d.normalized()
	types := "every type"
	if len(n.Types) > 0 {
		types = "types " + strings.Join(n.Types, ",")
	}
	locs := "every location and agency-level events"
	if !n.AllLocations {
		locs = "locations " + strings.Join(n.Locations, ",")
	}
	start := "from its creation"
	if n.FromEarliest {
		start = "from the earliest event"
	}
	return fmt.Sprintf("%s, %s, ack deadline %s, %s", types, locs, n.AckDeadline, start)
}

// Matches reports whether ev is the subscription's: its type is one of
// Types (or Types is empty) and its location is one of Locations, or
// AllLocations holds (the only way to get events of no location).
func (d Definition) Matches(ev Event) bool {
	if len(d.Types) > 0 && !slices.Contains(d.Types, ev.Type) {
		return false
	}
	return d.AllLocations || ev.LocationID != "" && slices.Contains(d.Locations, ev.LocationID)
}

func newDelivery(g groups, cfg DeliveryConfig) *Delivery {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewDeliveryMetrics(nil)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	d := &Delivery{g: g, cfg: cfg, m: cfg.Metrics, log: cfg.Logger, prefix: hex.EncodeToString(b[:]), done: make(chan struct{})}
	cfg.Metrics.watch(d)
	return d
}

// Close stops the backend's background work; open Subscribers' Next
// returns ErrClosed from then on.
func (d *Delivery) Close() {
	d.closeOnce.Do(func() {
		close(d.done)
		d.cfg.Metrics.unwatch(d)
		d.g.close()
	})
}

// Subscribe opens a stream on subscription name, creating the subscription
// with def when it does not exist. A subscription that exists with another
// definition is refused with *MismatchError.
func (d *Delivery) Subscribe(ctx context.Context, name string, def Definition) (*Subscriber, error) {
	if !ValidSubscriptionName(name) {
		return nil, fmt.Errorf("webhooks: subscription name %q: 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	def = def.normalized()
	if err := def.check(); err != nil {
		return nil, err
	}
	if err := d.g.open(ctx, name, def, d.cfg.MaxSubscriptions); err != nil {
		return nil, err
	}
	consumer := fmt.Sprintf("%s-%d", d.prefix, d.next.Add(1))
	return &Subscriber{d: d, name: name, def: def, consumer: consumer, cursor: "0-0"}, nil
}

// Definition returns the definition subscription name was created with, or
// ErrNoSubscription.
func (d *Delivery) Definition(ctx context.Context, name string) (Definition, error) {
	if !ValidSubscriptionName(name) {
		return Definition{}, ErrNoSubscription
	}
	def, err := d.g.definition(ctx, name)
	if err != nil {
		return Definition{}, err
	}
	return def.normalized(), nil
}

// Ack acknowledges events of subscription name by id: they are not
// delivered again. Ids the subscription holds no unacknowledged event for
// (acknowledged before, never delivered) change nothing, so a resent ack
// succeeds. Every id must be an event id (ValidEventID).
func (d *Delivery) Ack(ctx context.Context, name string, ids []string) error {
	for _, id := range ids {
		if !ValidEventID(id) {
			return fmt.Errorf("webhooks: %q is not an event id", id)
		}
	}
	n, err := d.g.ack(ctx, name, ids)
	if err != nil {
		return err
	}
	d.m.acked.WithLabelValues(name).Add(float64(n))
	return nil
}

// Subscriber is one stream on a subscription: a consumer of its group. It
// is used by one goroutine.
type Subscriber struct {
	d        *Delivery
	name     string
	def      Definition
	consumer string
	cursor   string // of claim
}

// Definition is the subscription's definition.
func (s *Subscriber) Definition() Definition { return s.def }

// Next waits until the subscription has events for this stream and returns
// up to the batch size of them: first those whose ack deadline passed
// (redeliveries), then new ones. Events the definition does not match are
// acknowledged on the way, never returned. It returns ctx's error when ctx
// ends first, and ErrClosed when the Delivery closes.
func (s *Subscriber) Next(ctx context.Context) ([]Event, error) {
	tick := time.NewTicker(s.d.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.d.done:
			return nil, ErrClosed
		default:
		}
		// Taken before reading, so an event added after the read wakes
		// this wait rather than waiting for the tick.
		wake := s.d.g.wake()
		evs, err := s.poll(ctx)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.d.done:
			return nil, ErrClosed
		case <-wake:
		case <-tick.C:
		}
	}
}

// poll looks once for redeliveries, then for new events.
func (s *Subscriber) poll(ctx context.Context) ([]Event, error) {
	g, batch := s.d.g, s.d.cfg.Batch
	claimed, gone, next, err := g.claim(ctx, s.name, s.consumer, s.def.AckDeadline, s.cursor, batch)
	if err != nil {
		return nil, s.fail(ctx, "claim", err)
	}
	s.cursor = next
	if len(gone) > 0 {
		// Retention (the stream's max length and age) removed events this
		// subscription had not acknowledged: say so, they cannot be sent.
		s.d.m.expired.WithLabelValues(s.name).Add(float64(len(gone)))
		s.d.log.WarnContext(ctx, "webhooks: unacknowledged events were trimmed from the stream before their redelivery",
			"subscription", s.name, "events", len(gone), "first", gone[0])
	}
	if out, err := s.keep(ctx, claimed); err != nil || len(out) > 0 {
		s.d.m.redelivered.WithLabelValues(s.name).Add(float64(len(out)))
		return out, err
	}
	fresh, err := g.readNew(ctx, s.name, s.consumer, batch)
	if err != nil {
		return nil, s.fail(ctx, "read", err)
	}
	out, err := s.keep(ctx, fresh)
	s.d.m.delivered.WithLabelValues(s.name).Add(float64(len(out)))
	return out, err
}

// keep returns the events the definition matches and acknowledges the
// others: they are not this subscription's, and left unacknowledged they
// would be claimed again and again.
func (s *Subscriber) keep(ctx context.Context, evs []Event) ([]Event, error) {
	var out []Event
	var skip []string
	for _, ev := range evs {
		if s.def.Matches(ev) {
			out = append(out, ev)
		} else {
			skip = append(skip, ev.ID)
		}
	}
	if len(skip) > 0 {
		if _, err := s.d.g.ack(ctx, s.name, skip); err != nil {
			return nil, s.fail(ctx, "ack unmatched", err)
		}
		s.d.m.filtered.WithLabelValues(s.name).Add(float64(len(skip)))
	}
	return out, nil
}

func (s *Subscriber) fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("subscription %s: %s: %w", s.name, op, err)
}

// Close ends the stream. Its unacknowledged events stay with the
// subscription and are delivered again, to any stream, after their
// deadline; the consumer is forgotten when it holds none.
func (s *Subscriber) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.d.g.leave(ctx, s.name, s.consumer); err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("subscription %s: leave: %w", s.name, err)
	}
	return nil
}
