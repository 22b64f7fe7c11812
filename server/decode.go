package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/upstream"
)

// decodeUpstream reads HighLevel's answer straight into out by JSON name
// (internal/jsonproto): values of unexpected types and undeclared keys are
// kept in the resource's unmapped field, never a failed call, and each is
// counted, so the overlay and the proto can declare them.
func (s *Server) decodeUpstream(ctx context.Context, resp *http.Response, err error, out proto.Message) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read HighLevel's answer: %w", err)
	}
	rep, err := jsonproto.Decode(b, out)
	if err != nil {
		return fmt.Errorf("decode HighLevel's answer: %w", err)
	}
	if len(rep) == 0 {
		return nil
	}
	op := "unknown"
	if o := upstream.OperationOf(ctx); o != nil {
		op = o.ID
	}
	for _, f := range rep {
		s.metrics.unmapped.WithLabelValues(op, string(f.Kind), strconv.FormatBool(f.Kept)).Inc()
	}
	logFrom(ctx).Debug("upstream keys without a field of their own", "operation", op, "keys", len(rep))
	return nil
}
