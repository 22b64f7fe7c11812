package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Small helpers shared by the conversions between hlgate.v1 messages and
// the generated HighLevel models (convert_*.go).

// str reads an optional upstream string.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// strs reads an optional upstream string list.
func strs(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}

// boolean reads an optional upstream bool.
func boolean(p *bool) bool { return p != nil && *p }

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

// upstreamTimePtr is upstreamTime of an optional value.
func upstreamTimePtr(p *string) *timestamppb.Timestamp { return upstreamTime(str(p)) }

// rfc3339 formats a timestamp the way HighLevel's write bodies take it.
func rfc3339(ts *timestamppb.Timestamp) string {
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// transcode copies between two generated models of the same JSON shape
// (HighLevel declares near-identical schemas for the contact it returns from
// get, create and search), so one conversion serves all of them.
func transcode(src, dst any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// writePaths returns the fields a write sets: the update mask's paths when
// one is given, else every populated field of msg (AIP-134: an absent mask
// means "the fields that are set").
func writePaths(msg proto.Message, mask *fieldmaskpb.FieldMask) []string {
	if len(mask.GetPaths()) > 0 {
		paths := make([]string, len(mask.GetPaths()))
		for i, p := range mask.GetPaths() {
			paths[i] = snakePath(p)
		}
		return paths
	}
	var paths []string
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		paths = append(paths, string(fd.Name()))
		return true
	})
	return paths
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
