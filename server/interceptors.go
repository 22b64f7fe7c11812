package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/hlgate/hlgate/upstream"
)

// unaryInterceptor is the one interceptor every RPC passes, on the gRPC port
// and through the gateway alike (the gateway dials the gRPC server over
// loopback). In order: recover, auth, then the handler; logging, metrics and
// error mapping wrap the whole.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	var call upstream.CallInfo
	ctx = upstream.WithCallInfo(ctx, &call)
	ctx, span := s.startRPC(ctx, info.FullMethod)
	log := s.log.With("rpc", info.FullMethod)
	if span != nil {
		log = log.With("trace_id", span.SpanContext().TraceID().String())
	}
	r := methodRules[info.FullMethod]
	msg, isMsg := req.(proto.Message)
	var named subjects
	if isMsg {
		named = r.names(msg)
	}
	if loc := named.first(); loc != "" {
		log = log.With("location", loc)
	}
	ctx = context.WithValue(ctx, loggerKey{}, log)

	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in handler", "panic", r, "stack", string(debug.Stack()))
			err = statusError(codes.Internal, "internal error", ReasonInternal)
			resp = nil
		}
		if err != nil {
			err = withErrorInfo(err).Err()
		}
		code := status.Code(err)
		endRPC(span, err, named.first(), &call)
		elapsed := time.Since(start)
		s.metrics.observeRPC(info.FullMethod, code, elapsed)
		if call.Sends > 0 {
			s.metrics.quotaWait.Observe(call.QuotaWait.Seconds())
		}
		level := slog.LevelInfo
		if code == codes.Internal || code == codes.Unknown {
			level = slog.LevelError
		}
		log.LogAttrs(ctx, level, "rpc",
			slog.String("code", code.String()),
			slog.Float64("ms", float64(elapsed.Microseconds())/1000),
			slog.Int("upstream_status", call.LastStatus),
			slog.Int("upstream_sends", call.Sends),
			slog.Float64("wait_ms", float64(call.QuotaWait.Microseconds())/1000),
		)
	}()

	if r == nil {
		// Fail closed: a method nobody declared is never served.
		return nil, unknownMethod(info.FullMethod)
	}
	if !isMsg {
		return nil, statusError(codes.Internal, "internal error", ReasonInternal)
	}
	if s.keys != nil {
		key, aerr := s.keys.authorize(ctx, r, msg, &named)
		if aerr != nil {
			return nil, aerr
		}
		if key != nil {
			log = log.With("caller", key.Name)
			ctx = context.WithValue(ctx, loggerKey{}, log)
			ctx = context.WithValue(ctx, callerKey{}, key)
		}
	}
	if field, deep := messageTooDeep(msg, maxNesting); deep {
		var v violations
		v.add(field, "nests objects or arrays more than %d levels deep", maxNesting)
		return nil, v.err()
	}
	limit := s.messageLimit(r)
	if n := proto.Size(msg); n > limit {
		// The transport lets the largest file through; this method's
		// messages keep the configured bound, with the transport's code.
		return nil, statusError(codes.ResourceExhausted, fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", n, limit), ReasonRequestTooLarge)
	}
	if r.op != nil {
		ctx = upstream.WithOperation(ctx, r.op)
	}
	resp, err = handler(ctx, req)
	if out, ok := resp.(proto.Message); ok && err == nil {
		if n := proto.Size(out); n > limit {
			return nil, statusError(codes.ResourceExhausted, fmt.Sprintf("grpc: trying to send message larger than max (%d vs. %d)", n, limit), ReasonResponseTooLarge)
		}
	}
	return resp, toStatus(ctx, err)
}

// streamInterceptor applies the same declarations to streaming RPCs
// (server reflection, health's Watch): a method without a rule is refused,
// and a stream whose rule names subject fields has every message the caller
// sends checked before the handler sees it.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in stream handler", "rpc", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
			err = statusError(codes.Internal, "internal error", ReasonInternal)
		}
		if err != nil {
			err = withErrorInfo(err).Err()
		}
	}()
	r := methodRules[info.FullMethod]
	if r == nil {
		if !s.served(info.FullMethod) {
			return statusError(codes.Unimplemented, "unknown method "+info.FullMethod, ReasonUnimplemented)
		}
		return unknownMethod(info.FullMethod)
	}
	if r.public {
		return handler(srv, ss)
	}
	log := s.log.With("rpc", info.FullMethod)
	ctx := context.WithValue(ss.Context(), loggerKey{}, log)
	if s.keys == nil {
		if r.global {
			return handler(srv, ss)
		}
		return toStatus(ctx, handler(srv, &loggedStream{ServerStream: ss, ctx: ctx}))
	}
	key, err := s.keys.authorize(ss.Context(), r, nil, nil)
	if err != nil {
		return err
	}
	if r.global {
		return handler(srv, ss)
	}
	ctx = context.WithValue(ctx, loggerKey{}, log.With("caller", key.Name))
	ctx = context.WithValue(ctx, callerKey{}, key)
	cs := &checkedStream{loggedStream: loggedStream{ServerStream: ss, ctx: ctx}, rule: r, key: key}
	return toStatus(ctx, handler(srv, cs))
}

// loggedStream carries the call's logger (and caller key) to the handler.
type loggedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (l *loggedStream) Context() context.Context { return l.ctx }

// checkedStream checks every message a caller sends on a stream against the
// stream's rule, so a stream cannot name a location its key may not use,
// and carries the caller's key to the handler.
type checkedStream struct {
	loggedStream
	rule *rule
	key  *CallerKey
}

func (c *checkedStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return statusError(codes.Internal, "internal error", ReasonInternal)
	}
	return c.rule.check(c.key, c.rule.names(msg))
}

// unknownMethod refuses a method that has no declared rule.
func unknownMethod(method string) error {
	return statusError(codes.PermissionDenied, "method "+method+" is refused: it declares no access rule", ReasonPermissionDenied)
}

type callerKey struct{}

// callerKeyFrom returns the key the interceptor authenticated the call
// with; nil when caller auth is off (or the method is public or global).
func callerKeyFrom(ctx context.Context) *CallerKey {
	k, _ := ctx.Value(callerKey{}).(*CallerKey)
	return k
}
