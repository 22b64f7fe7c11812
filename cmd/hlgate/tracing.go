package main

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/hlgate/hlgate/internal/tracing"
)

// traceFlushTimeout bounds the export of the spans still buffered at exit.
const traceFlushTimeout = 5 * time.Second

// startTracing builds the tracer provider the standard OTEL_EXPORTER_OTLP_*
// settings ask for (internal/tracing.FromEnv): off when none names a
// collector. The returned flush exports what is still buffered; serve runs
// it after the servers have stopped.
func startTracing(ctx context.Context, env func(string) string, log *slog.Logger) (*tracing.Provider, func(), error) {
	tp, err := tracing.FromEnv(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	if !tp.Enabled() {
		return tp, func() {}, nil
	}
	// Export failures join the JSON log instead of the SDK's own logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("trace export", "err", err) }))
	log.Info("tracing on", "exporter", tp.Exporter())
	return tp, func() {
		fctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
		defer cancel()
		if err := tp.Shutdown(fctx); err != nil {
			log.Warn("traces not all exported at exit", "err", err)
		}
	}, nil
}
