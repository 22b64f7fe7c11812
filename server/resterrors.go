package server

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Every error hlgate answers carries an ErrorInfo, including the ones the
// gateway and the gRPC library raise themselves with a bare message (a body
// it cannot decode, a query parameter it cannot parse, a route it does not
// know). withErrorInfo is the last step of every path an error leaves by:
// the interceptors on the gRPC side, gatewayErrorHandler on the REST side.

var (
	missingParamRe = regexp.MustCompile(`^missing parameter (\S+)$`)
	typeMismatchRe = regexp.MustCompile(`^type mismatch, parameter: (\S+), error: (.*)$`)
)

// withErrorInfo returns err's status with an ErrorInfo: err's own when it
// has one; else, for INVALID_ARGUMENT, a BadRequest naming the field the
// message names (the gateway's decode errors) and reason INVALID_ARGUMENT;
// else the reason fallbackReason gives the code.
func withErrorInfo(err error) *status.Status {
	st := status.Convert(err)
	if st.Code() == codes.OK || errorInfo(st) != nil {
		return st
	}
	msg := st.Message()
	if st.Code() == codes.InvalidArgument {
		if vs, ok := violationsFromText(msg); ok {
			return status.Convert(invalid(vs...))
		}
		if m := missingParamRe.FindStringSubmatch(msg); m != nil {
			return status.Convert(invalid(&errdetails.BadRequest_FieldViolation{Field: m[1], Description: "is required"}))
		}
		if m := typeMismatchRe.FindStringSubmatch(msg); m != nil {
			return status.Convert(invalid(&errdetails.BadRequest_FieldViolation{Field: m[1], Description: "is not valid: " + m[2]}))
		}
		if strings.HasPrefix(msg, "proto:") {
			return status.Convert(invalid(&errdetails.BadRequest_FieldViolation{Field: protojsonField(st.Err(), "body"), Description: protojsonText(st.Err())}))
		}
		// No field can be known: the violation names the request.
		return status.Convert(invalid(&errdetails.BadRequest_FieldViolation{Field: "request", Description: msg}))
	}
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: fallbackReason(st.Code(), msg), Domain: ErrorDomain}}
	for _, d := range st.Details() {
		if m, ok := d.(protoadapt.MessageV1); ok {
			details = append(details, m)
		}
	}
	out, derr := status.New(st.Code(), msg).WithDetails(details...)
	if derr != nil {
		return st
	}
	return out
}

// fallbackReason is the reason of an error raised without one: the
// transport's message bounds, a cancelled call, an unknown method; any
// other code gets the reason of the same name (UNKNOWN, INTERNAL).
func fallbackReason(code codes.Code, msg string) string {
	switch {
	case code == codes.ResourceExhausted && strings.Contains(msg, "received message larger than max"):
		return ReasonRequestTooLarge
	case code == codes.ResourceExhausted && strings.Contains(msg, "trying to send message larger than max"):
		return ReasonResponseTooLarge
	case code == codes.Canceled:
		return ReasonCancelled
	case code == codes.Unimplemented:
		return ReasonUnimplemented
	case code == codes.Unknown, code == codes.Internal, code == codes.DataLoss:
		return ReasonInternal
	}
	return codeReason(code)
}

// codeReason spells a code as google.rpc.Code does: ResourceExhausted is
// RESOURCE_EXHAUSTED.
func codeReason(code codes.Code) string {
	var b strings.Builder
	for i, r := range code.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

// routingError answers a request the gateway has no route for, as every
// other error: 404 with ROUTE_NOT_FOUND, 405 with METHOD_NOT_ALLOWED.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	gatewayErrorHandler(ctx, mux, m, w, r, routeStatus(httpStatus, r))
}

// routeStatus is the error of a request no route takes.
func routeStatus(httpStatus int, r *http.Request) error {
	var err error
	switch httpStatus {
	case http.StatusNotFound:
		err = statusError(codes.NotFound, "no route for "+r.Method+" "+r.URL.Path+": the REST routes are listed in /openapi.yaml", ReasonRouteNotFound)
	case http.StatusMethodNotAllowed:
		err = statusError(codes.Unimplemented, r.URL.Path+" does not take "+r.Method+": the REST routes are listed in /openapi.yaml", ReasonMethodNotAllowed)
	case http.StatusBadRequest:
		err = invalid(&errdetails.BadRequest_FieldViolation{Field: "path", Description: "could not be read as a route"})
	default:
		err = statusError(codes.Internal, "the request could not be routed", ReasonInternal)
	}
	return &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
}

// jsonRouteErrors answers the requests no pattern of mux takes (an unknown
// path, a known one with another method) with the JSON status every other
// error has, instead of net/http's text.
func jsonRouteErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's own answer (404, or 405 with Allow): keep its code
		// and headers, say it in JSON.
		rec := &codeRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		code := rec.code
		if code != http.StatusMethodNotAllowed {
			code = http.StatusNotFound
		}
		writeStatus(w, code, status.Convert(routeStatus(code, r).(*runtime.HTTPStatusError).Err))
	})
}

// codeRecorder keeps the status code and headers of a response and drops
// its body.
type codeRecorder struct {
	header http.Header
	code   int
}

func (c *codeRecorder) Header() http.Header         { return c.header }
func (c *codeRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (c *codeRecorder) WriteHeader(code int)        { c.code = code }

// recoverHTTP answers a panic in an HTTP handler with INTERNAL in JSON and
// logs it, instead of the connection simply closing. http.ErrAbortHandler
// is net/http's own way to abort a response, and is passed on.
func recoverHTTP(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.Error("panic in HTTP handler", "panic", p, "path", r.URL.Path, "stack", string(debug.Stack()))
			writeStatus(w, http.StatusInternalServerError, status.Convert(statusError(codes.Internal, "internal error", ReasonInternal)))
		}()
		next.ServeHTTP(w, r)
	})
}
