package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/internal/testwait"
	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/webhooks"
)

// Locations of the events tests besides the demo location, and keys for
// them.
const (
	otherLocation = "otherLocation0000001"
	otherReadKey  = "test-other-read-key" // read, otherLocation only
	allReadKey    = "test-all-read-key"   // read, every location ("*")
)

func eventsKeys() []CallerKey {
	return append(testKeys(),
		CallerKey{Name: "other-reader", SHA256: HashKey(otherReadKey), Locations: []string{otherLocation}, Access: "read"},
		CallerKey{Name: "all-reader", SHA256: HashKey(allReadKey), Locations: []string{"*"}, Access: "read"},
	)
}

// eventsServer is hlgate with the webhook receiver and EventsService over
// one store, as `hlgate serve` wires them, on its own gRPC port and an HTTP
// server built by HTTPServer (its real timeouts).
type eventsServer struct {
	t       *testing.T
	srv     *Server
	events  hlgatev1.EventsServiceClient
	httpURL string
	seq     atomic.Int64
}

type eventsOptions struct {
	redis *redistest.Server // nil: memory store and delivery
	http  HTTPLimits
	noKey bool // caller auth off
	// tracing, when set, traces the server; the HTTP side then calls it
	// through GatewayConn, as `hlgate serve` does.
	tracing *tracing.Provider
}

func newEventsServer(t *testing.T, opts eventsOptions) *eventsServer {
	t.Helper()
	keys := eventsKeys()
	if opts.noKey {
		keys = nil
	}
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: keys, noInstall: true, tracing: opts.tracing})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := tokenstore.AppID(sandbox.DefaultClientID)
	dcfg := webhooks.DeliveryConfig{PollInterval: 20 * time.Millisecond, Logger: log}
	var (
		store webhooks.Store
		d     *webhooks.Delivery
	)
	if opts.redis != nil {
		rs, err := webhooks.NewRedisStore(opts.redis.Client(), webhooks.DefaultStoreConfig)
		if err != nil {
			t.Fatal(err)
		}
		store = rs
		if d, err = webhooks.NewRedisDelivery(rs, app, dcfg); err != nil {
			t.Fatal(err)
		}
	} else {
		ms, err := webhooks.NewMemoryStore(webhooks.DefaultStoreConfig, nil)
		if err != nil {
			t.Fatal(err)
		}
		store = ms
		if d, err = webhooks.NewMemoryDelivery(ms, app, nil, dcfg); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(d.Close)
	v, err := webhooks.NewVerifier(webhookKey.Public().(ed25519.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := webhooks.NewReceiver(webhooks.Config{AppID: app, Verifier: v, Store: store, Tokens: h.mgr, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.srv.cfg
	cfg.Webhooks, cfg.Events, cfg.HTTP = rv, d, opts.http
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := srv.GRPCServer()
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	gw := conn
	if opts.tracing != nil {
		if gw, err = srv.GatewayConn(lis.Addr().String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gw.Close() })
	}
	handler, err := srv.HTTPHandler(context.Background(), gw)
	if err != nil {
		t.Fatal(err)
	}
	hlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(handler, nil)
	go func() { _ = hs.Serve(hlis) }()
	t.Cleanup(func() { _ = hs.Close() })
	return &eventsServer{t: t, srv: srv, events: hlgatev1.NewEventsServiceClient(conn), httpURL: "http://" + hlis.Addr().String()}
}

// post sends HighLevel's webhook of typ for loc ("" for agency-level),
// signed, through the receiver, and returns its webhook id.
func (e *eventsServer) post(typ, loc string) string {
	e.t.Helper()
	wh := fmt.Sprintf("wh-%d", e.seq.Add(1))
	m := map[string]any{"type": typ, "webhookId": wh, "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "companyId": "company-1", "id": "c-" + wh}
	if loc != "" {
		m["locationId"] = loc
	}
	body, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.httpURL+"/webhooks/highlevel", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhooks.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(webhookKey, body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("webhook %s: %d %s", wh, resp.StatusCode, b)
	}
	return wh
}

// ctx is a call context with key (none when empty), cancelled when the
// test ends.
func (e *eventsServer) ctx(key string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	if key != "" {
		ctx = withKey(ctx, key)
	}
	return ctx, cancel
}

// open opens a stream and waits until the server has subscribed it (its
// header), so events posted afterwards are the subscription's.
func (e *eventsServer) open(key string, req *hlgatev1.StreamEventsRequest) (grpc.ServerStreamingClient[hlgatev1.StreamEventsResponse], context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := e.ctx(key)
	s, err := e.events.StreamEvents(ctx, req)
	if err != nil {
		e.t.Fatalf("StreamEvents: %v", err)
	}
	if _, err := s.Header(); err != nil {
		e.t.Fatalf("StreamEvents header: %v", err)
	}
	return s, cancel
}

// openErr opens a stream that must fail and returns its error.
func (e *eventsServer) openErr(key string, req *hlgatev1.StreamEventsRequest) error {
	e.t.Helper()
	ctx, cancel := e.ctx(key)
	defer cancel()
	s, err := e.events.StreamEvents(ctx, req)
	if err != nil {
		return err
	}
	_, err = s.Recv()
	if err == nil {
		e.t.Fatalf("StreamEvents %v succeeded", req)
	}
	return err
}

// receive reads n events from s.
func receive(t *testing.T, s grpc.ServerStreamingClient[hlgatev1.StreamEventsResponse], n int) []*hlgatev1.Event {
	t.Helper()
	var out []*hlgatev1.Event
	for len(out) < n {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, m.GetEvent())
	}
	return out
}

func webhookIDs(evs []*hlgatev1.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.GetWebhookId()
	}
	return out
}

func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// Two subscriptions each get every event, whole; two streams of one
// subscription share its events, each event reaching one of them.
func TestEventsSubscriptionsOverGRPC(t *testing.T) {
	t.Parallel()
	e := newEventsServer(t, eventsOptions{})
	solo, _ := e.open(allReadKey, &hlgatev1.StreamEventsRequest{Subscription: "solo"})
	shared1, _ := e.open(allReadKey, &hlgatev1.StreamEventsRequest{Subscription: "shared"})
	shared2, _ := e.open(allReadKey, &hlgatev1.StreamEventsRequest{Subscription: "shared"})

	var want []string
	for i := range 10 {
		want = append(want, e.post("ContactCreate", []string{sandbox.DemoLocationID, otherLocation, ""}[i%3]))
	}
	got := receive(t, solo, len(want))
	if strings.Join(webhookIDs(got), ",") != strings.Join(want, ",") {
		t.Errorf("solo got %v, want %v", webhookIDs(got), want)
	}
	first := got[0]
	var p map[string]any
	b, _ := first.GetPayload().MarshalJSON()
	_ = json.Unmarshal(b, &p)
	if first.GetType() != "ContactCreate" || first.GetLocationId() != sandbox.DemoLocationID || first.GetCompanyId() != "company-1" ||
		p["webhookId"] != first.GetWebhookId() || p["id"] != "c-"+first.GetWebhookId() || first.GetReceiveTime() == nil || first.GetId() == "" {
		t.Errorf("event = %v", first)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, s := range []grpc.ServerStreamingClient[hlgatev1.StreamEventsResponse]{shared1, shared2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				m, err := s.Recv()
				if err != nil {
					return
				}
				// Counted once acknowledged, so the wait below covers the
				// acks; an ack cut off by the test's end is not a failure.
				actx, acancel := e.ctx(allReadKey)
				_, err = e.events.AckEvents(actx, &hlgatev1.AckEventsRequest{Subscription: "shared", EventIds: []string{m.GetEvent().GetId()}})
				acancel()
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("ack: %v", err)
					}
					return
				}
				mu.Lock()
				seen[m.GetEvent().GetWebhookId()]++
				mu.Unlock()
			}
		}()
	}
	testwait.For(t, "every event on the shared subscription", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == len(want)
	})
	mu.Lock()
	for _, wh := range want {
		if seen[wh] != 1 {
			t.Errorf("%s reached the shared subscription's streams %d times", wh, seen[wh])
		}
	}
	mu.Unlock()
	cancel() // the receivers stop at their next message; acks after this are the teardown's
}

// An event not acknowledged reaches the stream that reconnects after its
// deadline; acknowledged, it never comes again. Redis is the store, as in
// production.
func TestEventsRedeliveryToAReconnectingStream(t *testing.T) {
	t.Parallel()
	e := newEventsServer(t, eventsOptions{redis: redistest.Start(t, redistest.Options{})})
	req := &hlgatev1.StreamEventsRequest{Subscription: "crm-sync", AckDeadline: durationpb.New(time.Second), LocationIds: []string{sandbox.DemoLocationID}}
	s, cancel := e.open(readKey, req)
	wh := e.post("ContactUpdate", sandbox.DemoLocationID)
	first := receive(t, s, 1)[0]
	if first.GetWebhookId() != wh {
		t.Fatalf("got %s, want %s", first.GetWebhookId(), wh)
	}
	cancel() // the caller goes away without acknowledging

	again, _ := e.open(readKey, req)
	second := receive(t, again, 1)[0]
	if second.GetId() != first.GetId() {
		t.Fatalf("after reconnecting got %s, want the unacknowledged %s again", second.GetId(), first.GetId())
	}
	ctx, _ := e.ctx(readKey)
	if _, err := e.events.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: "crm-sync", EventIds: []string{second.GetId()}}); err != nil {
		t.Fatal(err)
	}
	// Resent, and for an id never delivered: still OK.
	if _, err := e.events.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: "crm-sync", EventIds: []string{second.GetId(), "1-1"}}); err != nil {
		t.Errorf("second ack: %v", err)
	}
	// Past the deadline (and several polls), the acknowledged event does
	// not come back; the next event does, and is the next thing received.
	time.Sleep(1500 * time.Millisecond)
	next := e.post("ContactUpdate", sandbox.DemoLocationID)
	if got := receive(t, again, 1)[0]; got.GetWebhookId() != next {
		t.Errorf("after the ack got %s (%s), want the next event %s", got.GetWebhookId(), got.GetId(), next)
	}
}

// A key limited to a location never sees another location's events, nor
// agency-level ones; naming another location is refused; agency-level
// events need a key for every location.
func TestEventsFollowTheCallersKey(t *testing.T) {
	t.Parallel()
	e := newEventsServer(t, eventsOptions{})
	demo, _ := e.open(readKey, &hlgatev1.StreamEventsRequest{Subscription: "demo-only"})
	other, _ := e.open(otherReadKey, &hlgatev1.StreamEventsRequest{Subscription: "other-only"})
	all, _ := e.open(allReadKey, &hlgatev1.StreamEventsRequest{Subscription: "agency", Types: []string{"INSTALL"}})

	a1 := e.post("ContactCreate", sandbox.DemoLocationID)
	e.post("ContactCreate", otherLocation)
	agency := e.post("INSTALL", "")
	e.post("INSTALL", otherLocation)
	a2 := e.post("ContactDelete", sandbox.DemoLocationID)
	o := e.post("ContactDelete", otherLocation)

	if got := webhookIDs(receive(t, demo, 2)); strings.Join(got, ",") != a1+","+a2 {
		t.Errorf("the demo location's key got %v, want %s,%s", got, a1, a2)
	}
	got := webhookIDs(receive(t, other, 3))
	if got[2] != o {
		t.Errorf("the other location's key got %v, want its three events ending with %s", got, o)
	}
	if g := receive(t, all, 2); g[0].GetWebhookId() != agency || g[0].GetLocationId() != "" || g[1].GetLocationId() != otherLocation {
		t.Errorf("the agency subscription got %v, want the agency INSTALL first", webhookIDs(g))
	}

	st := wantStatus(t, e.openErr(readKey, &hlgatev1.StreamEventsRequest{Subscription: "sneak", LocationIds: []string{otherLocation}}), codes.PermissionDenied, ReasonPermissionDenied)
	if !strings.Contains(st.Message(), "location_ids[0]") {
		t.Errorf("refusal %q does not name location_ids[0]", st.Message())
	}
	// The limited key cannot join, nor ack on, the subscription of every
	// location, and is not shown what it was created with.
	st = wantStatus(t, e.openErr(readKey, &hlgatev1.StreamEventsRequest{Subscription: "agency", Types: []string{"INSTALL"}}), codes.FailedPrecondition, ReasonSubscriptionMismatch)
	if strings.Contains(st.Message(), "every location") {
		t.Errorf("the mismatch shows the stored definition to a key that may not read it: %q", st.Message())
	}
	ctx, _ := e.ctx(readKey)
	_, err := e.events.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: "agency", EventIds: []string{"1-0"}})
	wantStatus(t, err, codes.PermissionDenied, ReasonPermissionDenied)
	ctx, _ = e.ctx(otherReadKey)
	_, err = e.events.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: "demo-only", EventIds: []string{"1-0"}})
	wantStatus(t, err, codes.PermissionDenied, ReasonPermissionDenied)
	// No key, or an unknown one: refused before anything.
	wantStatus(t, e.openErr("", &hlgatev1.StreamEventsRequest{Subscription: "x"}), codes.Unauthenticated, ReasonUnauthenticated)
	wantStatus(t, e.openErr("nobody", &hlgatev1.StreamEventsRequest{Subscription: "x"}), codes.Unauthenticated, ReasonUnauthenticated)
}

func TestEventsDefinitionMismatchIsRefused(t *testing.T) {
	t.Parallel()
	e := newEventsServer(t, eventsOptions{})
	e.open(allReadKey, &hlgatev1.StreamEventsRequest{Subscription: "orders", Types: []string{"OrderCreate", "InvoicePaid"}})
	// The same definition in another order joins.
	e.open(allReadKey, &hlgatev1.StreamEventsRequest{Subscription: "orders", Types: []string{"InvoicePaid", "OrderCreate"}, AckDeadline: durationpb.New(30 * time.Second)})
	for _, req := range []*hlgatev1.StreamEventsRequest{
		{Subscription: "orders", Types: []string{"OrderCreate"}},
		{Subscription: "orders", Types: []string{"OrderCreate", "InvoicePaid"}, AckDeadline: durationpb.New(10 * time.Second)},
		{Subscription: "orders", Types: []string{"OrderCreate", "InvoicePaid"}, LocationIds: []string{sandbox.DemoLocationID}},
		{Subscription: "orders", Types: []string{"OrderCreate", "InvoicePaid"}, Start: hlgatev1.StartPosition_START_POSITION_EARLIEST},
	} {
		st := wantStatus(t, e.openErr(allReadKey, req), codes.FailedPrecondition, ReasonSubscriptionMismatch)
		if !strings.Contains(st.Message(), "InvoicePaid,OrderCreate") {
			t.Errorf("mismatch %q does not say what the subscription was created with", st.Message())
		}
	}
}

func TestEventsInvalidArguments(t *testing.T) {
	t.Parallel()
	e := newEventsServer(t, eventsOptions{})
	for _, c := range []struct {
		req   *hlgatev1.StreamEventsRequest
		field string
	}{
		{&hlgatev1.StreamEventsRequest{}, "subscription"},
		{&hlgatev1.StreamEventsRequest{Subscription: "a b"}, "subscription"},
		{&hlgatev1.StreamEventsRequest{Subscription: strings.Repeat("s", 65)}, "subscription"},
		{&hlgatev1.StreamEventsRequest{Subscription: webhooks.InstallSubscription}, "subscription"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", AckDeadline: durationpb.New(999 * time.Millisecond)}, "ack_deadline"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", AckDeadline: durationpb.New(2 * time.Hour)}, "ack_deadline"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", AckDeadline: durationpb.New(time.Second + time.Microsecond)}, "ack_deadline"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", Types: []string{""}}, "types[0]"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", LocationIds: []string{"a/b"}}, "location_ids[0]"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", LocationIds: []string{sandbox.DemoLocationID, ""}}, "location_ids[1]"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", LocationIds: []string{"*"}}, "location_ids[0]"},
		{&hlgatev1.StreamEventsRequest{Subscription: "s", Start: 7}, "start"},
	} {
		st := wantStatus(t, e.openErr(allReadKey, c.req), codes.InvalidArgument, ReasonInvalidArgument)
		wantFieldViolation(t, st, c.field)
	}
	ctx, _ := e.ctx(allReadKey)
	for _, c := range []struct {
		req   *hlgatev1.AckEventsRequest
		field string
	}{
		{&hlgatev1.AckEventsRequest{EventIds: []string{"1-0"}}, "subscription"},
		{&hlgatev1.AckEventsRequest{Subscription: "s"}, "event_ids"},
		{&hlgatev1.AckEventsRequest{Subscription: webhooks.InstallSubscription, EventIds: []string{"1-0"}}, "subscription"},
		{&hlgatev1.AckEventsRequest{Subscription: "s", EventIds: []string{"1-0", "12"}}, "event_ids[1]"},
		{&hlgatev1.AckEventsRequest{Subscription: "s", EventIds: []string{"x-1"}}, "event_ids[0]"},
		{&hlgatev1.AckEventsRequest{Subscription: "s", EventIds: make([]string, 1001)}, "event_ids"},
	} {
		_, err := e.events.AckEvents(ctx, c.req)
		wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), c.field)
	}
	_, err := e.events.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: "never-opened", EventIds: []string{"1-0"}})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)

	// Over REST: 400 naming the field, for the stream and the ack.
	// A stream refused before it opened answers one {"error": Status} line.
	code, _, body := e.restCall(http.MethodGet, "/v1/subscriptions/s/events:stream?ackDeadline=0.5s", allReadKey, nil)
	var line struct {
		Error json.RawMessage `json:"error"`
	}
	if code != http.StatusBadRequest || json.Unmarshal(body, &line) != nil || !restNamesField(line.Error, "ack_deadline") {
		t.Errorf("REST stream with a short deadline: %d %s", code, body)
	}
	code, _, body = e.restCall(http.MethodPost, "/v1/subscriptions/s/events:ack", allReadKey, strings.NewReader(`{"eventIds":["nope"]}`))
	if code != http.StatusBadRequest || !restNamesField(body, "event_ids[0]") {
		t.Errorf("REST ack of a malformed id: %d %s", code, body)
	}
}

func (e *eventsServer) restCall(method, path, key string, body io.Reader) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.httpURL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// The REST stream is newline-delimited JSON through the gateway; it is
// answered before any event arrives, outlives the HTTP server's read and
// write timeouts while idle, and its events are acknowledged by POST.
func TestEventsOverREST(t *testing.T) {
	t.Parallel()
	limits := DefaultHTTPLimits
	limits.ReadTimeout, limits.WriteTimeout = time.Second, time.Second
	e := newEventsServer(t, eventsOptions{http: limits})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.httpURL+"/v1/subscriptions/rest-sub/events:stream?ackDeadline=2s&types=ContactCreate", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 4<<20)
	next := func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended: %v", lines.Err())
		}
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		return m
	}
	event := func(m map[string]any) map[string]any {
		t.Helper()
		ev, _ := m["result"].(map[string]any)["event"].(map[string]any)
		if ev == nil {
			t.Fatalf("line %v has no result.event", m)
		}
		return ev
	}

	// Idle for longer than both timeouts, then an event.
	time.Sleep(2500 * time.Millisecond)
	wh := e.post("ContactCreate", sandbox.DemoLocationID)
	e.post("ContactCreate", otherLocation) // not the key's
	ev := event(next())
	if ev["webhookId"] != wh || ev["locationId"] != sandbox.DemoLocationID || ev["payload"].(map[string]any)["webhookId"] != wh {
		t.Fatalf("event %v, want %s", ev, wh)
	}
	id, _ := ev["id"].(string)
	code, _, body := e.restCall(http.MethodPost, "/v1/subscriptions/rest-sub/events:ack", readKey, strings.NewReader(fmt.Sprintf(`{"eventIds":[%q]}`, id)))
	if code != http.StatusOK {
		t.Fatalf("ack: %d %s", code, body)
	}
	// Not acknowledged, this one comes again after its 2 s deadline, on
	// the same stream; the acknowledged one does not.
	wh2 := e.post("ContactCreate", sandbox.DemoLocationID)
	ev2 := event(next())
	again := event(next())
	if ev2["webhookId"] != wh2 || again["id"] != ev2["id"] {
		t.Errorf("got %v then %v, want %s twice", ev2["webhookId"], again["webhookId"], wh2)
	}
}

// Without a webhook receiver there are no events: the RPCs say so.
func TestEventsDisabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, noInstall: true})
	c := hlgatev1.NewEventsServiceClient(h.conn)
	s, err := c.StreamEvents(h.ctx(""), &hlgatev1.StreamEventsRequest{Subscription: "x"})
	if err == nil {
		_, err = s.Recv()
	}
	wantStatus(t, err, codes.FailedPrecondition, ReasonEventsDisabled)
	_, err = c.AckEvents(h.ctx(""), &hlgatev1.AckEventsRequest{Subscription: "x", EventIds: []string{"1-0"}})
	wantStatus(t, err, codes.FailedPrecondition, ReasonEventsDisabled)
}

// Shutdown ends open streams with UNAVAILABLE, so a graceful stop does not
// wait for callers that never hang up. Without caller auth a stream gets
// every location's events.
func TestEventsShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	e := newEventsServer(t, eventsOptions{noKey: true})
	s, _ := e.open("", &hlgatev1.StreamEventsRequest{Subscription: "bye"})
	wh := e.post("INSTALL", "")
	if got := receive(t, s, 1)[0]; got.GetWebhookId() != wh {
		t.Fatalf("got %s, want %s", got.GetWebhookId(), wh)
	}
	e.srv.Shutdown()
	_, err := s.Recv()
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || errors.Is(err, io.EOF) {
		t.Errorf("after Shutdown: %v, want UNAVAILABLE", err)
	}
}
