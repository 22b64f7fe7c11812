// Package server implements hlgate's gRPC services over the generated
// HighLevel client, and the HTTP side: the REST gateway, the OAuth install
// pages, health, metrics and the OpenAPI document.
//
// Every RPC, whether it arrives on the gRPC port or through the gateway,
// passes one interceptor: recover, caller auth, request log, metrics, and the
// one mapping of errors to gRPC status (errors.go). Handlers validate their
// request completely before any upstream call, then call HighLevel through
// the upstream chain (token, quota, Version header, retries).
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/hlgate/hlgate/gen/genservices"
	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/upstream"
)

// TokenAdmin is what TokensService needs of the token manager;
// *tokenstore.Manager provides it.
type TokenAdmin interface {
	ExchangeCode(ctx context.Context, code, redirectURI string, opts tokenstore.ExchangeOptions) (tokenstore.Status, error)
	ConfirmInstall(ctx context.Context, subject string) (tokenstore.Status, error)
	ImportPIT(ctx context.Context, p tokenstore.PIT) (tokenstore.Status, error)
	ImportPair(ctx context.Context, p tokenstore.Pair) (tokenstore.Status, error)
	MintLocationToken(ctx context.Context, companyID, locationID string) (tokenstore.Status, error)
	Status(ctx context.Context, subject string) (tokenstore.Status, error)
	Delete(ctx context.Context, subject string) error
}

// Config wires a Server.
type Config struct {
	// Logger receives the request log; JSON in production.
	Logger *slog.Logger
	// Upstream is the generated HighLevel client, built over the upstream
	// chain (upstream.Client as its HTTP doer).
	Upstream *highlevel.ClientWithResponses
	// Tokens backs TokensService.
	Tokens TokenAdmin
	// Keys authenticates callers; nil turns caller auth off (only with
	// HLGATE_INSECURE_NO_AUTH).
	Keys *Keys
	// PageKey seals page tokens; every replica must use the same one (the
	// token key). Empty: a random key, valid for this process only.
	PageKey []byte
	// OAuthPages serves GET /oauth/install and /oauth/callback.
	OAuthPages http.Handler
	// Webhooks serves POST /webhooks/highlevel (a *webhooks.Receiver). It
	// is mounted without caller auth: HighLevel is the caller, and the
	// handler proves that by the signature. It bounds its own body and
	// answer time. Nil: the route is not mounted (404).
	Webhooks http.Handler
	// Events backs EventsService (a *webhooks.Delivery over the store the
	// receiver writes). Nil: its RPCs answer FAILED_PRECONDITION
	// (EVENTS_DISABLED).
	Events Events
	// ReadyChecks are run by /readyz, by name.
	ReadyChecks map[string]func(context.Context) error
	// Metrics; NewMetrics() when nil.
	Metrics *Metrics
	// MaxMessageBytes bounds a gRPC message in either direction (default 4 MiB).
	MaxMessageBytes int
	// MaxConcurrentStreams bounds the calls one gRPC connection may have in
	// flight (default 1000).
	MaxConcurrentStreams uint32
	// HTTP bounds the HTTP port's requests and connections; zero fields take
	// the defaults of DefaultHTTPLimits.
	HTTP HTTPLimits
	// Tracing gives every RPC, REST call and webhook its span (tracing.go);
	// nil or off: none.
	Tracing *tracing.Provider
}

// HTTPLimits bound what one HTTP client can hold of the process: body size,
// and how long a request, a response and an idle connection may take.
type HTTPLimits struct {
	// MaxBodyBytes bounds a REST request body; a larger one is refused with
	// 413 before the gateway decodes anything.
	MaxBodyBytes int64
	// ReadHeaderTimeout and ReadTimeout bound reading a request's headers
	// and the whole request, body included (a client trickling its body is
	// cut off).
	ReadHeaderTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds a whole exchange from the end of the request
	// headers to the end of the response. It must exceed the longest call
	// (quota wait plus upstream retries).
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections that send nothing.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// DefaultHTTPLimits are the HTTP port's bounds unless configured.
var DefaultHTTPLimits = HTTPLimits{
	MaxBodyBytes:      DefaultMaxBodyBytes,
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      2 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	orDefault(&l.MaxBodyBytes, d.MaxBodyBytes)
	orDefault(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	orDefault(&l.ReadTimeout, d.ReadTimeout)
	orDefault(&l.WriteTimeout, d.WriteTimeout)
	orDefault(&l.IdleTimeout, d.IdleTimeout)
	orDefault(&l.MaxHeaderBytes, d.MaxHeaderBytes)
	return l
}

// orDefault sets *v to def when it is not positive.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Server holds the services' shared state.
type Server struct {
	cfg     Config
	log     *slog.Logger
	keys    *Keys
	metrics *Metrics
	hl      *highlevel.ClientWithResponses
	pages   *pageTokens
	health  *health.Server
	// stopping is cancelled by Shutdown: long-lived streams end then.
	stopping context.Context
	stop     context.CancelFunc
	// inProcessMethods are the unary methods GRPCServer registered, for
	// GatewayConn; nil before GRPCServer runs.
	inProcessMethods atomic.Pointer[map[string]inProcessMethod]
	// servedMethods are the full names of every method GRPCServer
	// registered: a call of any other is UNIMPLEMENTED.
	servedMethods atomic.Pointer[map[string]bool]
	// tracer starts the entry points' spans; nil when tracing is off.
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("server: Upstream client is required")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("server: Tokens is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 4 << 20
	}
	if cfg.MaxConcurrentStreams == 0 {
		cfg.MaxConcurrentStreams = 1000
	}
	cfg.HTTP = cfg.HTTP.withDefaults()
	pages, err := newPageTokens(cfg.PageKey)
	if err != nil {
		return nil, err
	}
	stopping, stop := context.WithCancel(context.Background())
	return &Server{
		stopping: stopping,
		stop:     stop,
		cfg:      cfg,
		log:      cfg.Logger,
		keys:     cfg.Keys,
		metrics:  cfg.Metrics,
		hl:       cfg.Upstream,
		pages:    pages,
		health:   health.NewServer(),
		tracer:   cfg.Tracing.Tracer(),
		prop:     cfg.Tracing.Propagator(),
	}, nil
}

// streamWorkers is how many goroutines the gRPC server keeps to run calls
// on. Without them grpc-go starts a goroutine per call, whose stack then
// grows (copied, 8 KB to 32 KB and more) through the interceptors, the
// upstream client and the recursive decode of HighLevel's answer: 4% of
// the process's CPU in hlbench's gRPC GetContact cell. A worker keeps its
// grown stack from call to call. Calls beyond the busy workers still get a
// goroutine of their own, so the number bounds nothing; it is sized for
// the calls one replica typically has in flight (throughput × upstream
// latency: 10,000 calls/s × 5 ms = 50).
const streamWorkers = 64

// GRPCServer returns a gRPC server with every hlgate service, gRPC health
// and server reflection registered.
func (s *Server) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.traceStream, s.streamInterceptor),
		grpc.MaxRecvMsgSize(s.messageBytes()),
		grpc.MaxSendMsgSize(s.messageBytes()),
		grpc.MaxConcurrentStreams(s.cfg.MaxConcurrentStreams),
		grpc.NumStreamWorkers(streamWorkers),
		// A method no service has reaches the interceptors too, which
		// answer it UNIMPLEMENTED with an ErrorInfo like every error.
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return statusError(codes.Unimplemented, "unknown method", ReasonUnimplemented)
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 15 * time.Minute,
			Time:              2 * time.Minute,
			Timeout:           20 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             20 * time.Second,
			PermitWithoutStream: true,
		}),
	}, opts...)
	g := grpc.NewServer(opts...)
	// Every product's service is generated (gen/genservices); the generic
	// path serves each method but those in handWritten, which these
	// implement.
	impls := map[string]any{
		hlgatev1.ContactsService_ServiceDesc.ServiceName:      &contactsService{s: s},
		hlgatev1.OpportunitiesService_ServiceDesc.ServiceName: &opportunitiesService{s: s},
		hlgatev1.CalendarsService_ServiceDesc.ServiceName:     &calendarsService{s: s},
		hlgatev1.PaymentsService_ServiceDesc.ServiceName:      &paymentsService{s: s},
	}
	// The same handlers, by method, for the gateway's in-process calls
	// (GatewayConn).
	inProcess := map[string]inProcessMethod{}
	for _, gs := range genservices.Services {
		impl, ok := impls[gs.Desc.ServiceName]
		if !ok {
			impl = gs.Impl
		}
		s.register(g, gs.Desc, impl)
		s.addInProcess(inProcess, gs.Desc, impl)
	}
	tokens, events, up := &tokensService{s: s}, &eventsService{s: s}, &upstreamService{s: s}
	hlgatev1.RegisterTokensServiceServer(g, tokens)
	hlgatev1.RegisterEventsServiceServer(g, events)
	hlgatev1.RegisterUpstreamServiceServer(g, up)
	s.addInProcess(inProcess, &hlgatev1.TokensService_ServiceDesc, tokens)
	s.addInProcess(inProcess, &hlgatev1.EventsService_ServiceDesc, events)
	s.addInProcess(inProcess, &hlgatev1.UpstreamService_ServiceDesc, up)
	s.inProcessMethods.Store(&inProcess)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
	served := map[string]bool{}
	for name, info := range g.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
		for _, m := range info.Methods {
			served["/"+name+"/"+m.Name] = true
		}
	}
	s.servedMethods.Store(&served)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	return g
}

// served reports whether GRPCServer registered the method.
func (s *Server) served(method string) bool {
	m := s.servedMethods.Load()
	return m != nil && (*m)[method]
}

// Shutdown marks every service NOT_SERVING, so load balancers stop sending
// new calls while in-flight ones finish, and ends event streams (UNAVAILABLE:
// their callers reconnect, to another replica), which would otherwise hold
// the graceful stop until its grace period ends.
func (s *Server) Shutdown() {
	s.health.Shutdown()
	s.stop()
}

// upstreamCtx returns the context for calls about location: its token and
// its quota.
func upstreamCtx(ctx context.Context, location string) context.Context {
	return upstream.WithSubject(ctx, location)
}
