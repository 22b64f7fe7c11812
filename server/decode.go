package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/upstream"
)

// readUpstream reads the body of an answer the upstream chain accepted
// (a 2xx; every other status is already an error).
func readUpstream(resp *http.Response, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read HighLevel's answer: %w", err)
	}
	return b, nil
}

// countUnmapped counts the keys a decode could not place in a field of
// their own, by operation.
func (s *Server) countUnmapped(ctx context.Context, rep jsonproto.Report) {
	if len(rep) == 0 {
		return
	}
	op := "unknown"
	if o := upstream.OperationOf(ctx); o != nil {
		op = o.ID
	}
	for _, f := range rep {
		s.metrics.unmapped.WithLabelValues(op, string(f.Kind), strconv.FormatBool(f.Kept)).Inc()
	}
	logFrom(ctx).Debug("upstream keys without a field of their own", "operation", op, "keys", len(rep))
}
