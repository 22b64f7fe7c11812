package server

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Small helpers shared by the conversions between hlgate.v1 messages and
// the generated HighLevel models (convert_*.go).

// optStr is an optional upstream string that is sent only when set.
func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// upstreamTime parses one of HighLevel's time spellings: RFC 3339 (with or
// without fraction), or epoch milliseconds as a string. Unparseable or empty
// values give nil: a missing time is better than a failed read.
func upstreamTime(s string) *timestamppb.Timestamp {
	if s == "" {
		return nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timestamppb.New(t)
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return timestamppb.New(time.UnixMilli(ms))
	}
	return nil
}

// snakePath accepts a mask path in proto form (last_name) or in the JSON
// form a REST caller writes in ?updateMask= (lastName, dndSettings.email).
func snakePath(p string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(p) {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
