package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	log := s.log.With("rpc", info.FullMethod)
	loc := locationOf(req)
	if loc != "" {
		log = log.With("location", loc)
	}
	ctx = context.WithValue(ctx, loggerKey{}, log)

	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in handler", "panic", r, "stack", string(debug.Stack()))
			err = statusError(codes.Internal, "internal error", ReasonInternal)
			resp = nil
		}
		code := status.Code(err)
		elapsed := time.Since(start)
		s.metrics.rpcs.WithLabelValues(info.FullMethod, code.String()).Inc()
		s.metrics.rpcLatency.WithLabelValues(info.FullMethod).Observe(elapsed.Seconds())
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

	if s.keys != nil {
		key, aerr := s.keys.authorize(ctx, info.FullMethod, loc)
		if aerr != nil {
			return nil, aerr
		}
		log = log.With("caller", key.Name)
		ctx = context.WithValue(ctx, loggerKey{}, log)
	}
	resp, err = handler(ctx, req)
	return resp, toStatus(ctx, err)
}
