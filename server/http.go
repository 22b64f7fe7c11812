package server

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hlgate/hlgate/gen/genservices"
	"github.com/hlgate/hlgate/gen/openapiv2"
	"github.com/hlgate/hlgate/gen/openapiv3"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// gatewayRegistrations are the gateway handlers of the services that are
// not generated products (gen/genservices adds those), one per service.
var gatewayRegistrations = []gatewayService{
	{hlgatev1.File_hlgate_v1_tokens_service_proto.Services().ByName("TokensService"), hlgatev1.RegisterTokensServiceHandler},
	{hlgatev1.File_hlgate_v1_upstream_service_proto.Services().ByName("UpstreamService"), hlgatev1.RegisterUpstreamServiceHandler},
	{hlgatev1.File_hlgate_v1_events_service_proto.Services().ByName("EventsService"), hlgatev1.RegisterEventsServiceHandler},
}

// streamRoutes are the REST routes of server-streaming RPCs: responses that
// last as long as the caller wants, which the HTTP server's read and write
// timeouts must not cut (see longLived).
var streamRoutes = []string{
	"GET /v1/subscriptions/{subscription}/events:stream",
}

// HTTPHandler returns the HTTP side of hlgate: the REST gateway under /v1/
// (calling the gRPC server through conn, so the interceptors run once for
// both paths; conn from GatewayConn serves unary calls in process), the
// OAuth install pages, HighLevel's webhooks, health,
// metrics and the OpenAPI document.
func (s *Server) HTTPHandler(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	useRESTQuery()
	opts := []runtime.ServeMuxOption{
		runtime.WithErrorHandler(gatewayErrorHandler),
		runtime.WithRoutingErrorHandler(routingError),
		// An answer of bytes (google.api.HttpBody) is written as itself,
		// with its Content-Type; everything else as JSON. Bodies and
		// query parameters take HighLevel's enum spellings too, and name
		// the field they cannot read (restjson.go).
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: &restMarshaler{JSONPb: runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}}),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithIncomingHeaderMatcher(noIncomingHeader),
		runtime.WithForwardResponseOption(streamOpened),
		s.gatewayTracing(),
	}
	services := slices.Clone(gatewayRegistrations)
	for _, gs := range genservices.Services {
		services = append(services, gatewayService{desc: gs.File.Services().ByName(protoreflect.FullName(gs.Desc.ServiceName).Name()), register: gs.RegisterGateway})
	}
	gw, err := newRouteGroups(ctx, services, conn, func() *runtime.ServeMux { return runtime.NewServeMux(opts...) })
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	rest := boundUploads(s.boundRequests(s.cfg.HTTP.MaxBodyBytes, gw), s.boundRequests(s.restUploadBytes(), gw))
	mux.Handle(restPattern, rest)
	for _, route := range streamRoutes {
		mux.Handle(route, s.longLived(rest))
	}
	if s.cfg.OAuthPages != nil {
		mux.Handle("GET /oauth/install", s.cfg.OAuthPages)
		mux.Handle("GET /oauth/callback", s.cfg.OAuthPages)
	}
	if s.cfg.Webhooks != nil {
		// Public like health: no caller key (HighLevel is the caller), so
		// not behind boundRequests; the receiver verifies the signature and
		// bounds the body itself.
		mux.Handle("POST /webhooks/highlevel", s.cfg.Webhooks)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiv2.Document)
	})
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapiv3.Document)
	})
	return s.traceHTTP(recoverHTTP(s.log, restFirst(rest, jsonRouteErrors(mux), streamRoutes))), nil
}

// restPattern is the mux pattern of the REST gateway.
const restPattern = "/v1/"

// restFirst sends a request straight to rest when the mux would route it
// there anyway, so a REST call is not matched against the mux's patterns
// (twice: jsonRouteErrors asks the mux for the handler, then serves
// through it). That is a path under /v1/ that the mux would not redirect
// (clean, no escaped form of its own) and that does not end in the last
// segment of a stream route (those the mux serves, with longLived); every
// other request goes to next.
func restFirst(rest, next http.Handler, streams []string) http.Handler {
	ends := lastSegments(streams)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if restRouted(r, ends) {
			// As the mux would: the tracing handler names the span once
			// a pattern is set.
			r.Pattern = restPattern
			rest.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lastSegments are the last segments of routes, each with its slash.
func lastSegments(routes []string) []string {
	ends := make([]string, 0, len(routes))
	for _, route := range routes {
		ends = append(ends, route[strings.LastIndexByte(route, '/'):])
	}
	return ends
}

// restRouted reports a request that the mux of HTTPHandler would give its
// "/v1/" pattern: see restFirst. ends are the stream routes' last
// segments, with their slash.
func restRouted(r *http.Request, ends []string) bool {
	p := r.URL.Path
	if r.Method == http.MethodConnect || r.URL.RawPath != "" || !strings.HasPrefix(p, "/v1/") || !cleanPath(p) {
		return false
	}
	for _, end := range ends {
		if strings.HasSuffix(p, end) {
			return false
		}
	}
	return true
}

// cleanPath reports a rooted path that http.ServeMux would not redirect to
// a cleaner one: no empty, "." or ".." segment but a trailing slash.
func cleanPath(p string) bool {
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// noIncomingHeader is the gateway's incoming header matcher: no request
// header becomes gRPC metadata but those the gateway always passes
// (Authorization, X-Forwarded-For and X-Forwarded-Host). Its default would
// add the standard ones (Accept, User-Agent, Authorization again …) under
// "grpcgateway-", which nothing in hlgate reads, at several allocations
// per header on every REST call.
func noIncomingHeader(string) (string, bool) { return "", false }

// HTTPServer returns an http.Server for h with the configured limits, so a
// client can hold neither memory (body and header bounds) nor connections
// (read, write and idle timeouts) for long.
func (s *Server) HTTPServer(h http.Handler, errorLog *log.Logger) *http.Server {
	l := s.cfg.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

// readyz answers 200 when every dependency answers: Redis when configured,
// and complete configuration.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	for name, check := range s.cfg.ReadyChecks {
		if err := check(ctx); err != nil {
			checks[name] = err.Error()
			ok = false
		} else {
			checks[name] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": checks})
}

// gatewayErrorHandler writes the gateway's error response, with an
// ErrorInfo on every error (withErrorInfo: the gateway's own decode and
// routing errors have none), and adds Retry-After to 429 and 503 answers
// from the status's RetryInfo, so plain HTTP clients back off correctly.
func gatewayErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		err = &runtime.HTTPStatusError{HTTPStatus: custom.HTTPStatus, Err: withErrorInfo(custom.Err).Err()}
	} else {
		err = withErrorInfo(err).Err()
	}
	st, _ := status.FromError(err)
	if st.Code() == codes.ResourceExhausted || st.Code() == codes.Unavailable {
		if d, ok := retryDelay(st); ok {
			secs := int((d + time.Second - 1) / time.Second)
			if secs < 1 {
				secs = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// streamOpened sends a server stream's status and headers as soon as the
// gRPC stream says it is open (streamOpenHeader; the gateway calls
// forward-response options with no message then), instead of with its
// first message: a REST caller of an event stream learns it is subscribed
// before any event arrives.
func streamOpened(ctx context.Context, w http.ResponseWriter, m proto.Message) error {
	if m != nil {
		return nil
	}
	if md, ok := runtime.ServerMetadataFromContext(ctx); !ok || len(md.HeaderMD.Get(streamOpenHeader)) == 0 {
		// Refused before it opened: the gateway answers the error with
		// its HTTP status.
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// longLived lets a streaming response outlive the HTTP server's timeouts
// without giving up their protection. The read deadline is lifted: the
// request (a GET) is read, and what the server still reads only notices
// the caller hanging up. The write deadline is lifted between messages,
// and every write and flush gets WriteTimeout again, so a stream may stay
// idle for hours while a caller that stops reading is still cut off
// WriteTimeout after a message could not be sent.
func (s *Server) longLived(next http.Handler) http.Handler {
	d := s.cfg.HTTP.WriteTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(&writeDeadlines{ResponseWriter: w, rc: rc, d: d}, r)
	})
}

// writeDeadlines arms the write deadline for each write and flush of a
// stream, and lifts it once a flush has sent what was written.
type writeDeadlines struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *writeDeadlines) arm() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *writeDeadlines) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

// FlushError is what http.ResponseController.Flush calls (the gateway
// flushes after every message).
func (w *writeDeadlines) FlushError() error {
	w.arm()
	if err := w.rc.Flush(); err != nil {
		return err
	}
	_ = w.rc.SetWriteDeadline(time.Time{})
	return nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *writeDeadlines) Unwrap() http.ResponseWriter { return w.ResponseWriter }
