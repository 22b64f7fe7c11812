package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
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

// num reads an optional upstream number.
func num(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

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

// customFieldsFrom converts HighLevel's custom fields of any product, given
// how to read one field's id and value.
func customFieldsFrom[T any](in []T, id func(*T) string, value func(*T) any) []*hlgatev1.CustomField {
	if len(in) == 0 {
		return nil
	}
	out := make([]*hlgatev1.CustomField, 0, len(in))
	for i := range in {
		raw := normalizeJSON(value(&in[i]))
		v, err := structpb.NewValue(raw)
		if err != nil {
			v = structpb.NewStringValue(fmt.Sprint(raw))
		}
		out = append(out, &hlgatev1.CustomField{Id: id(&in[i]), Value: v})
	}
	return out
}

// normalizeJSON turns values decoded by encoding/json into what structpb
// accepts.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case *string:
		if x == nil {
			return nil
		}
		return *x
	}
	return v
}

// customFieldInput is the write shape of a custom field
// (CustomFieldInputString/Array/Object in api/openapi.yaml): id or key, and
// field_value.
type customFieldInput struct {
	ID         string `json:"id,omitempty"`
	Key        string `json:"key,omitempty"`
	FieldValue any    `json:"field_value"`
}

// customFieldsTo converts custom fields for a write body, checking each.
func customFieldsTo(field string, in []*hlgatev1.CustomField, v *violations) []customFieldInput {
	out := make([]customFieldInput, 0, len(in))
	for i, cf := range in {
		name := fmt.Sprintf("%s[%d]", field, i)
		if cf.GetId() == "" && cf.GetKey() == "" {
			v.add(name+".id", "id or key is required")
			continue
		}
		if cf.GetId() != "" && !idPattern.MatchString(cf.GetId()) {
			v.add(name+".id", "must be a custom field id")
			continue
		}
		var val any
		switch k := cf.GetValue().GetKind().(type) {
		case nil, *structpb.Value_NullValue:
			val = ""
		case *structpb.Value_StringValue:
			val = k.StringValue
		case *structpb.Value_NumberValue:
			val = strconv.FormatFloat(k.NumberValue, 'f', -1, 64)
		case *structpb.Value_BoolValue:
			val = strconv.FormatBool(k.BoolValue)
		case *structpb.Value_ListValue:
			list := make([]string, 0, len(k.ListValue.GetValues()))
			for _, item := range k.ListValue.GetValues() {
				s, ok := item.GetKind().(*structpb.Value_StringValue)
				if !ok {
					v.add(name+".value", "a list value must hold only strings")
					break
				}
				list = append(list, s.StringValue)
			}
			val = list
		case *structpb.Value_StructValue:
			val = k.StructValue.AsMap()
		}
		out = append(out, customFieldInput{ID: cf.GetId(), Key: cf.GetKey(), FieldValue: val})
	}
	return out
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

// outputOnlyFields names the fields of md annotated
// (google.api.field_behavior) = OUTPUT_ONLY: read from the declaration, not
// listed again by hand.
func outputOnlyFields(md protoreflect.MessageDescriptor) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		opts, ok := fd.Options().(*descriptorpb.FieldOptions)
		if !ok || opts == nil {
			continue
		}
		behaviors, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY) {
			out[string(fd.Name())] = true
		}
	}
	return out
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
