package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/webhooks"
)

// Events is what EventsService needs of the delivery engine;
// *webhooks.Delivery provides it.
type Events interface {
	Subscribe(ctx context.Context, name string, def webhooks.Definition) (*webhooks.Subscriber, error)
	Definition(ctx context.Context, name string) (webhooks.Definition, error)
	Ack(ctx context.Context, name string, ids []string) error
}

var _ Events = (*webhooks.Delivery)(nil)

// streamOpenHeader is the header metadata a stream sends once it is
// subscribed; the gateway answers a REST stream's status and headers on it
// (streamOpened). A stream refused before has none, and gets its HTTP error
// status instead.
const streamOpenHeader = "hlgate-stream-open"

// eventsService serves the webhook events the receiver stored. The
// interceptor authenticates both RPCs and checks location_ids; what a key
// may read beyond that (its locations when none is named, a subscription's
// locations on an ack) is decided here, from the key it put in the context.
type eventsService struct {
	hlgatev1.UnimplementedEventsServiceServer
	s *Server
}

func (e *eventsService) StreamEvents(req *hlgatev1.StreamEventsRequest, stream grpc.ServerStreamingServer[hlgatev1.StreamEventsResponse]) error {
	ctx := stream.Context()
	var v violations
	m := req.ProtoReflect()
	requiredFields(m, "", false, &v)
	checkFields(m, "", &v)
	subscriptionField(&v, req.GetSubscription())
	for i, loc := range req.GetLocationIds() {
		// FORMAT_ID lets an empty value pass (it is for optional ids); an
		// empty location would name no event.
		if loc == "" {
			v.add(fmt.Sprintf("location_ids[%d]", i), "is empty")
		}
	}
	deadline := webhooks.DefaultAckDeadline
	if d := req.GetAckDeadline(); d != nil {
		switch dd := d.AsDuration(); {
		case d.CheckValid() != nil:
			v.add("ack_deadline", "is not a valid duration")
		case dd < webhooks.MinAckDeadline || dd > webhooks.MaxAckDeadline:
			v.add("ack_deadline", "must be from %s to %s", webhooks.MinAckDeadline, webhooks.MaxAckDeadline)
		case dd%time.Millisecond != 0:
			v.add("ack_deadline", "must be whole milliseconds")
		default:
			deadline = dd
		}
	}
	switch req.GetStart() {
	case hlgatev1.StartPosition_START_POSITION_UNSPECIFIED, hlgatev1.StartPosition_START_POSITION_EARLIEST:
	default:
		v.add("start", "must be START_POSITION_UNSPECIFIED or START_POSITION_EARLIEST")
	}
	if err := v.err(); err != nil {
		return err
	}
	events, err := e.events()
	if err != nil {
		return err
	}
	def, err := e.scope(ctx, req.GetLocationIds())
	if err != nil {
		return err
	}
	def.Types = req.GetTypes()
	def.AckDeadline = deadline
	def.FromEarliest = req.GetStart() == hlgatev1.StartPosition_START_POSITION_EARLIEST

	name := req.GetSubscription()
	sub, err := events.Subscribe(ctx, name, def)
	var mismatch *webhooks.MismatchError
	if errors.As(err, &mismatch) && e.mayRead(ctx, mismatch.Have) != nil {
		// The stored definition names locations this key may not use: do
		// not show them.
		return statusError(codes.FailedPrecondition, fmt.Sprintf("subscription %q was created with another definition, for locations this key may not use; use another subscription name", name), ReasonSubscriptionMismatch)
	}
	if err != nil {
		return err
	}
	log := logFrom(ctx).With("subscription", name)
	defer func() {
		if err := sub.Close(); err != nil {
			log.Warn("events: closing the stream left its consumer in the store", "err", err)
		}
	}()
	// The stream is open: say so now (a REST caller gets its 200 and
	// headers), not only with the first event.
	if err := stream.SendHeader(metadata.Pairs(streamOpenHeader, "true")); err != nil {
		return err
	}
	log.Info("events: stream opened", "definition", sub.Definition().String())

	// Streams end when the server stops, so a graceful stop does not wait
	// for callers that never hang up; they reconnect to another replica.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.s.stopping, cancel)
	defer stop()

	sent := 0
	for {
		evs, err := sub.Next(ctx)
		if err != nil {
			log.Info("events: stream ended", "sent", sent, "reason", err.Error())
			if e.s.stopping.Err() != nil {
				return webhooks.ErrClosed
			}
			return err
		}
		for _, ev := range evs {
			msg, err := eventProto(ev)
			if err != nil {
				return err
			}
			if err := stream.Send(&hlgatev1.StreamEventsResponse{Event: msg}); err != nil {
				// Unacknowledged, the event is delivered again after its
				// deadline.
				return err
			}
			sent++
		}
	}
}

func (e *eventsService) AckEvents(ctx context.Context, req *hlgatev1.AckEventsRequest) (*hlgatev1.AckEventsResponse, error) {
	var v violations
	m := req.ProtoReflect()
	requiredFields(m, "", false, &v)
	checkFields(m, "", &v)
	subscriptionField(&v, req.GetSubscription())
	if len(req.GetEventIds()) <= 1000 {
		for i, id := range req.GetEventIds() {
			if !webhooks.ValidEventID(id) {
				v.add(fmt.Sprintf("event_ids[%d]", i), "is not an event id: \"<milliseconds>-<sequence>\", as Event.id")
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	events, err := e.events()
	if err != nil {
		return nil, err
	}
	def, err := events.Definition(ctx, req.GetSubscription())
	if err != nil {
		return nil, err
	}
	if err := e.mayRead(ctx, def); err != nil {
		return nil, err
	}
	if err := events.Ack(ctx, req.GetSubscription(), req.GetEventIds()); err != nil {
		return nil, err
	}
	return &hlgatev1.AckEventsResponse{}, nil
}

// subscriptionField checks a subscription name; REQUIRED is checked from
// the declaration.
func subscriptionField(v *violations, name string) {
	if name != "" && !webhooks.ValidSubscriptionName(name) {
		v.add("subscription", "must be 1 to 64 letters, digits, '.', '_' or '-'")
	} else if strings.HasPrefix(name, webhooks.ReservedSubscriptionPrefix) {
		v.add("subscription", "names starting with \""+webhooks.ReservedSubscriptionPrefix+"\" are hlgate's own")
	}
}

func (e *eventsService) events() (Events, error) {
	if e.s.cfg.Events == nil {
		return nil, statusError(codes.FailedPrecondition, "this server does not receive HighLevel's webhooks (HLGATE_WEBHOOKS_DISABLED), so it has no events", ReasonEventsDisabled)
	}
	return e.s.cfg.Events, nil
}

// scope is the locations part of a stream's definition: the locations
// named (the interceptor checked each against the key), or every location
// the key allows. Only a key for every location, or no caller auth, gets
// AllLocations, and with it the events of no location.
func (e *eventsService) scope(ctx context.Context, named []string) (webhooks.Definition, error) {
	if e.s.keys == nil {
		return webhooks.Definition{Locations: named, AllLocations: len(named) == 0}, nil
	}
	key := callerKeyFrom(ctx)
	if key == nil {
		// Auth is on but no key reached the handler: refuse rather than
		// guess what it may read.
		return webhooks.Definition{}, statusError(codes.Internal, "internal error", ReasonInternal)
	}
	if len(named) > 0 {
		for i, loc := range named {
			if !key.all && !key.allow[loc] {
				return webhooks.Definition{}, statusError(codes.PermissionDenied, fmt.Sprintf("key %q may not use location %s (location_ids[%d])", key.Name, loc, i), ReasonPermissionDenied)
			}
		}
		return webhooks.Definition{Locations: named}, nil
	}
	if key.all {
		return webhooks.Definition{AllLocations: true}, nil
	}
	locs := slices.DeleteFunc(slices.Clone(key.Locations), func(l string) bool { return l == "*" })
	return webhooks.Definition{Locations: locs}, nil
}

// mayRead proves the caller's key may read every event of def.
func (e *eventsService) mayRead(ctx context.Context, def webhooks.Definition) error {
	if e.s.keys == nil {
		return nil
	}
	key := callerKeyFrom(ctx)
	switch {
	case key == nil:
		return statusError(codes.Internal, "internal error", ReasonInternal)
	case key.all:
		return nil
	case def.AllLocations:
		return statusError(codes.PermissionDenied, fmt.Sprintf("key %q is limited to some locations; the subscription gets the events of every location", key.Name), ReasonPermissionDenied)
	}
	for _, loc := range def.Locations {
		if !key.allow[loc] {
			return statusError(codes.PermissionDenied, fmt.Sprintf("key %q may not use location %s, one of the subscription's", key.Name, loc), ReasonPermissionDenied)
		}
	}
	return nil
}

// eventProto is a stored event as EventsService sends it. The receiver
// stored only bodies that decode as a JSON object, so the payload always
// converts; a failure is a bug, not a caller's problem.
func eventProto(ev webhooks.Event) (*hlgatev1.Event, error) {
	var body map[string]any
	if err := json.Unmarshal(ev.Body, &body); err != nil {
		return nil, fmt.Errorf("event %s: body: %w", ev.ID, err)
	}
	payload, err := structpb.NewStruct(body)
	if err != nil {
		return nil, fmt.Errorf("event %s: payload: %w", ev.ID, err)
	}
	return &hlgatev1.Event{
		Id: ev.ID, Type: ev.Type, LocationId: ev.LocationID, CompanyId: ev.CompanyID, WebhookId: ev.WebhookID,
		Payload: payload, ReceiveTime: timestamppb.New(ev.ReceiveTime),
	}, nil
}
