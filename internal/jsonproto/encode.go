package jsonproto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// EncodeOptions says which fields Encode sends.
type EncodeOptions struct {
	// Paths, when non-nil, are the fields to send, as FieldMask paths in
	// proto names ("first_name", "dnd_settings.email"); a listed field is
	// sent even when it holds its zero value. nil sends every populated
	// field.
	Paths []string
}

// PathError is an EncodeOptions path that names no field Encode can send:
// a caller's mistake, to be answered as INVALID_ARGUMENT naming Path.
type PathError struct {
	// Path is the path as given.
	Path string
	// Reason says what is wrong with it.
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("jsonproto: path %q: %s", e.Path, e.Reason)
}

// FieldError is a field whose value HighLevel's JSON cannot carry (NaN, an
// unspecified enum value, a time outside the years 1 to 9999): a caller's
// mistake, to be answered as INVALID_ARGUMENT naming Field.
type FieldError struct {
	// Field is the field's path in proto names, with list indexes and map
	// keys in brackets: custom_fields[2].value, labels["vip"].
	Field string
	// Reason says what is wrong with the value.
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("jsonproto: field %s: %s", e.Field, e.Reason)
}

// Encode returns m as HighLevel's JSON, by JSON name (or Wire name), as a
// fresh tree of map[string]any, []any and scalars that encoding/json
// marshals to the JSON HighLevel takes.
//
// Keys. A field is sent under its wire.write_name, else its wire.name, else
// its JSON name ("firstName"). Two writable fields of one message that
// would send the same key are an error whether or not they are set: the
// declaration is wrong, and one value would silently replace the other.
//
// Left out, always: fields with (google.api.field_behavior) = OUTPUT_ONLY
// and fields with wire.read_only, at any depth, and the unmapped Struct (it
// holds what a read could not type; it is never written back). A path
// naming one of them is valid and sends nothing, as AIP-161 has update
// masks ignore output-only fields.
//
// Which fields. Without Paths, a field with presence (a message, a proto3
// optional, a oneof member) is sent when set; a proto3 scalar without
// presence when it is not zero; a repeated or map field when it is not
// empty. A field named in Paths is sent even when zero or empty: a zero
// scalar as its zero value, an empty list as [], an empty map as {}, an
// unset message as null. A path into a message ("dnd_settings.email")
// sends that message holding only the subfields named, whether or not the
// message is set. A path naming a field the message does not have, or
// descending into a field that is not a singular message encoded as an
// object (a scalar, a list, a map, a well-known type such as Timestamp or
// Struct), fails with a *PathError.
//
// Values. Strings and bools as themselves; integers as JSON numbers of the
// field's Go type (int32, int64, uint32, uint64), never as strings as
// protojson writes 64-bit ones, so every digit stays exact; float and double
// as float32 and float64 (NaN and ±Inf are a *FieldError); bytes as
// standard base64. An enum value as its (hlgate.v1.wire_value), else its
// name without the enum's prefix, lower-cased and without underscores
// (DND_STATUS_ACTIVE: "active"); the zero value, which HighLevel has no
// spelling for, is left out of a field without presence, and wherever it
// would be sent (a path names the field, an optional field holds it, a
// list holds it) is a *FieldError. A google.protobuf.Timestamp per the
// field's wire.time: RFC 3339 in UTC with fractional seconds only when not
// zero (time.RFC3339Nano), or epoch milliseconds as a number or a string,
// finer precision dropped (HighLevel keeps milliseconds); a time outside
// the years 1 to 9999 is a *FieldError. Value, Struct and ListValue as
// the JSON they hold, numbers as float64 (a Value with no kind set is null;
// a number that is NaN or infinite is a *FieldError; an integral number of
// magnitude 2^53 or more is a json.Number with an exponent, 1e+20, so that
// Decode reads it back as a number). Wrappers (StringValue, Int64Value,
// BoolValue…) as their inner value by the same rules. Duration and
// FieldMask as protojson writes them ("1.5s", "firstName,dndSettings").
// Empty as {}. google.protobuf.Any is an error: HighLevel's JSON has no
// such value. Other messages as objects by these same rules; maps as
// objects whose keys are the map keys in decimal or "true"/"false".
//
// The first error met, in field declaration order (map entries in key
// order), is returned; the map is nil then.
func Encode(m proto.Message, opts EncodeOptions) (map[string]any, error) {
	mr := m.ProtoReflect()
	var tree pathTree
	if opts.Paths != nil {
		t, err := parsePaths(mr.Descriptor(), opts.Paths)
		if err != nil {
			return nil, err
		}
		tree = t
	}
	return encodeMessage(mr, tree, "")
}

// pathTree is the parsed EncodeOptions.Paths of one message: the fields
// named, each with the subfields named below it, or a nil tree when the
// whole field is named.
type pathTree map[protoreflect.Name]pathTree

func parsePaths(md protoreflect.MessageDescriptor, paths []string) (pathTree, error) {
	root := pathTree{}
	for _, p := range paths {
		if err := root.add(md, p); err != nil {
			return nil, err
		}
	}
	return root, nil
}

func (t pathTree) add(md protoreflect.MessageDescriptor, path string) error {
	segs := strings.Split(path, ".")
	node := t
	for i, seg := range segs {
		fd := md.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			return &PathError{Path: path, Reason: fmt.Sprintf("%s has no field %q", md.FullName(), seg)}
		}
		last := i == len(segs)-1
		if last {
			node[fd.Name()] = nil // the whole field, whatever else names parts of it
			return nil
		}
		if !isObjectMessage(fd) {
			return &PathError{Path: path, Reason: fmt.Sprintf("%s is not a message a path can go inside", fd.FullName())}
		}
		sub, named := node[fd.Name()]
		if named && sub == nil {
			return nil // the whole field is named already
		}
		if sub == nil {
			sub = pathTree{}
			node[fd.Name()] = sub
		}
		node, md = sub, fd.Message()
	}
	return nil
}

// isObjectMessage reports whether a path may go inside fd: a singular
// message that Encode writes as an object of its fields, not one of the
// well-known types written as a single JSON value.
func isObjectMessage(fd protoreflect.FieldDescriptor) bool {
	if fd.Message() == nil || fd.IsList() || fd.IsMap() {
		return false
	}
	return !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.")
}

// encodeMessage encodes m's writable fields; tree, when not nil, limits
// them to those it names. path is m's own path, for errors.
func encodeMessage(m protoreflect.Message, tree pathTree, path string) (map[string]any, error) {
	fields := m.Descriptor().Fields()
	out := map[string]any{}
	owner := map[string]protoreflect.FieldDescriptor{}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !writable(fd) {
			continue
		}
		key := writeKey(fd)
		if other, dup := owner[key]; dup {
			return nil, fmt.Errorf("jsonproto: %s and %s both write key %q", other.FullName(), fd.FullName(), key)
		}
		owner[key] = fd
		sub, named := tree[fd.Name()]
		if !named && (tree != nil || !m.Has(fd)) {
			continue
		}
		fp := join(path, string(fd.Name()))
		var v any
		var err error
		if sub != nil {
			// Only the subfields named, inside the message whether or not it
			// is set (Get returns an empty one).
			v, err = encodeMessage(m.Get(fd).Message(), sub, fp)
		} else {
			v, err = encodeField(m, fd, fp)
		}
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// encodeField encodes fd of m, set or not.
func encodeField(m protoreflect.Message, fd protoreflect.FieldDescriptor, path string) (any, error) {
	w := wireOf(fd)
	switch {
	case fd.IsList():
		list := m.Get(fd).List()
		arr := make([]any, 0, list.Len())
		for i := 0; i < list.Len(); i++ {
			v, err := encodeValue(fd, w, list.Get(i), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case fd.IsMap():
		type entry struct {
			key string
			val protoreflect.Value
		}
		var entries []entry
		m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			entries = append(entries, entry{k.String(), v})
			return true
		})
		sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
		obj := make(map[string]any, len(entries))
		for _, e := range entries {
			v, err := encodeValue(fd.MapValue(), w, e.val, fmt.Sprintf("%s[%q]", path, e.key))
			if err != nil {
				return nil, err
			}
			obj[e.key] = v
		}
		return obj, nil
	case fd.Message() != nil && !m.Has(fd):
		return nil, nil // named in Paths but unset: null
	}
	return encodeValue(fd, w, m.Get(fd), path)
}

// encodeValue encodes one value of fd's kind (a singular field, a list
// element or a map value); w is the Wire option of the field that holds it.
func encodeValue(fd protoreflect.FieldDescriptor, w *hlgatev1.Wire, v protoreflect.Value, path string) (any, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String(), nil
	case protoreflect.BoolKind:
		return v.Bool(), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return int32(v.Int()), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int(), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return uint32(v.Uint()), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint(), nil
	case protoreflect.FloatKind:
		if err := finite(v.Float(), path); err != nil {
			return nil, err
		}
		// float32, so encoding/json writes the shortest form that reads
		// back as the same float32 (0.1, not 0.10000000149011612).
		return float32(v.Float()), nil
	case protoreflect.DoubleKind:
		if err := finite(v.Float(), path); err != nil {
			return nil, err
		}
		return v.Float(), nil
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()), nil
	case protoreflect.EnumKind:
		return encodeEnum(fd.Enum(), v.Enum(), path)
	}
	return encodeMessageValue(v.Message(), w, path)
}

func finite(f float64, path string) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &FieldError{Field: path, Reason: fmt.Sprintf("%v cannot be written as JSON", f)}
	}
	return nil
}

func encodeEnum(ed protoreflect.EnumDescriptor, n protoreflect.EnumNumber, path string) (any, error) {
	if n == 0 {
		return nil, &FieldError{Field: path, Reason: fmt.Sprintf("%s has no value HighLevel takes; set another or leave the field out", ed.Values().ByNumber(0).Name())}
	}
	ev := ed.Values().ByNumber(n)
	if ev == nil {
		return nil, &FieldError{Field: path, Reason: fmt.Sprintf("%d is not a value of %s", n, ed.FullName())}
	}
	return enumWire(ev), nil
}

// enumWire is the string HighLevel uses for an enum value: its
// (hlgate.v1.wire_value), else its default spelling.
func enumWire(ev protoreflect.EnumValueDescriptor) string {
	if s := explicitWireValue(ev); s != "" {
		return s
	}
	return defaultWireValue(ev)
}

// encodeMessageValue encodes a message value: a well-known type as the
// JSON value it stands for, any other as an object of its fields.
func encodeMessageValue(m protoreflect.Message, w *hlgatev1.Wire, path string) (any, error) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		ts := &timestamppb.Timestamp{
			Seconds: m.Get(md.Fields().ByName("seconds")).Int(),
			Nanos:   int32(m.Get(md.Fields().ByName("nanos")).Int()),
		}
		if err := ts.CheckValid(); err != nil {
			return nil, &FieldError{Field: path, Reason: err.Error()}
		}
		v, err := formatTime(ts.AsTime(), w.GetTime())
		if err != nil {
			return nil, fmt.Errorf("jsonproto: field %s: %w", path, err)
		}
		return v, nil
	case "google.protobuf.Duration", "google.protobuf.FieldMask":
		// protojson's forms ("1.5s", "firstName,lastName") are what
		// HighLevel's Google-style fields take; its checks (range, paths
		// that have a camelCase form) come with them.
		b, err := protojson.Marshal(m.Interface())
		if err != nil {
			return nil, &FieldError{Field: path, Reason: err.Error()}
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("jsonproto: field %s: %w", path, err)
		}
		return s, nil
	case "google.protobuf.Value":
		v := &structpb.Value{}
		proto.Merge(v, m.Interface())
		return structValue(v, path)
	case "google.protobuf.Struct":
		st := &structpb.Struct{}
		proto.Merge(st, m.Interface())
		return structValue(structpb.NewStructValue(st), path)
	case "google.protobuf.ListValue":
		lv := &structpb.ListValue{}
		proto.Merge(lv, m.Interface())
		return structValue(structpb.NewListValue(lv), path)
	case "google.protobuf.Empty":
		return map[string]any{}, nil
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue",
		"google.protobuf.BytesValue":
		inner := md.Fields().ByName("value")
		return encodeValue(inner, nil, m.Get(inner), path)
	case "google.protobuf.Any":
		return nil, fmt.Errorf("jsonproto: field %s: google.protobuf.Any has no form in HighLevel's JSON", path)
	}
	return encodeMessage(m, nil, path)
}

// formatTime spells t as a field of format f travels.
func formatTime(t time.Time, f hlgatev1.TimeFormat) (any, error) {
	switch f {
	case hlgatev1.TimeFormat_TIME_FORMAT_UNSPECIFIED:
		return t.UTC().Format(time.RFC3339Nano), nil
	case hlgatev1.TimeFormat_TIME_FORMAT_EPOCH_MILLIS:
		return t.UnixMilli(), nil
	case hlgatev1.TimeFormat_TIME_FORMAT_EPOCH_MILLIS_STRING:
		return strconv.FormatInt(t.UnixMilli(), 10), nil
	}
	return nil, fmt.Errorf("unknown time format %d", f)
}

// structValue is the JSON a google.protobuf.Value holds, with float64
// numbers.
func structValue(v *structpb.Value, path string) (any, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if err := finite(f, path); err != nil {
			return nil, err
		}
		if f == math.Trunc(f) && math.Abs(f) >= 1<<53 {
			// encoding/json would write 1e20 as 100000000000000000000,
			// which Decode reads as an integer beyond float64's precision
			// and keeps as the string of its digits; with an exponent it
			// reads back as the same number.
			return json.Number(strconv.FormatFloat(f, 'e', -1, 64)), nil
		}
		return f, nil
	case *structpb.Value_StringValue:
		return k.StringValue, nil
	case *structpb.Value_BoolValue:
		return k.BoolValue, nil
	case *structpb.Value_StructValue:
		fields := k.StructValue.GetFields()
		keys := make([]string, 0, len(fields))
		for key := range fields {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		obj := make(map[string]any, len(fields))
		for _, key := range keys {
			e, err := structValue(fields[key], join(path, key))
			if err != nil {
				return nil, err
			}
			obj[key] = e
		}
		return obj, nil
	case *structpb.Value_ListValue:
		values := k.ListValue.GetValues()
		arr := make([]any, 0, len(values))
		for i, e := range values {
			a, err := structValue(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			arr = append(arr, a)
		}
		return arr, nil
	}
	return nil, nil // null, or no kind set
}
