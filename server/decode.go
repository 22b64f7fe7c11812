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
	b, err := readAll(resp.Body, resp.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("read HighLevel's answer: %w", err)
	}
	return b, nil
}

// presizeLimit is the largest declared length readAll allocates for up
// front; a longer answer grows as it is read, so a length that lies costs
// no more memory than the body sent.
const presizeLimit = 1 << 20

// readAll is io.ReadAll with the buffer sized for the declared length n
// (-1 when unknown): one allocation for an answer that says its length,
// where io.ReadAll grows from 512 bytes, copying as it goes.
func readAll(r io.Reader, n int64) ([]byte, error) {
	if n <= 0 || n > presizeLimit {
		return io.ReadAll(r)
	}
	// One byte more, so that the read which finds the end needs no room.
	b := make([]byte, 0, n+1)
	for {
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
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
	// A resource often has a dozen findings of two or three kinds: the
	// counter of each (kind, kept) is looked up once, not per finding.
	var counts [8]struct {
		kind jsonproto.Kind
		kept bool
		n    int
	}
	n := 0
	for _, f := range rep {
		i := 0
		for i < n && (counts[i].kind != f.Kind || counts[i].kept != f.Kept) {
			i++
		}
		if i == len(counts) { // more (kind, kept) pairs than there are kinds today
			s.metrics.unmapped.WithLabelValues(op, string(f.Kind), strconv.FormatBool(f.Kept)).Inc()
			continue
		}
		if i == n {
			counts[i].kind, counts[i].kept = f.Kind, f.Kept
			n++
		}
		counts[i].n++
	}
	for _, c := range counts[:n] {
		s.metrics.unmapped.WithLabelValues(op, string(c.kind), strconv.FormatBool(c.kept)).Add(float64(c.n))
	}
	logFrom(ctx).Debug("upstream keys without a field of their own", "operation", op, "keys", len(rep))
}
