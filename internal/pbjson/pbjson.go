// Package pbjson writes a proto message as protojson.Marshal writes it
// with its default options (JSON names, enum names, int64 as strings,
// unpopulated fields left out, well-known types in their JSON form), in a
// third of the time: the gateway writes every REST answer with it.
//
// It walks the message with protoreflect in declaration order, as protojson
// does, from a per-message table of keys already escaped. It writes the
// same JSON value: the same keys in the same order, the same numbers in the
// same spelling; only insignificant whitespace differs (protojson adds a
// random space here and there so that no one compares its bytes). What it
// does not write itself (Any, Duration, FieldMask, the wrappers, Empty,
// extensions, dynamic well-known messages) and every input protojson
// refuses (invalid UTF-8, a Timestamp out of range, a Value that is NaN or
// unset) it hands to protojson, so errors are protojson's own.
package pbjson

import (
	"cmp"
	"encoding/base64"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Marshal writes m as protojson.Marshal(m) does.
func Marshal(m proto.Message) ([]byte, error) {
	if m == nil {
		return protojson.Marshal(m)
	}
	pm := m.ProtoReflect()
	if !pm.IsValid() {
		return protojson.Marshal(m)
	}
	// The buffer starts at the size the type's answers take, so that it
	// seldom grows.
	size := 512
	if last, ok := lastSize.Load(pm.Descriptor()); ok {
		size = last.(int)
	}
	e := encoder{out: make([]byte, 0, size)}
	if !e.message(pm) {
		return protojson.Marshal(m)
	}
	if len(e.out) > size || len(e.out) < size/2 {
		lastSize.Store(pm.Descriptor(), len(e.out))
	}
	return e.out, nil
}

// lastSize is, for each message type, the length of a JSON written for it:
// the last one that outgrew the buffer or used less than half of it.
var lastSize sync.Map // protoreflect.MessageDescriptor → int

// encoder appends JSON to out. Each method reports false when protojson
// must write the message instead.
type encoder struct {
	out []byte
}

// field is what writing one field needs, read once per message type.
type field struct {
	fd  protoreflect.FieldDescriptor
	key []byte // "jsonName":
}

// plan is a message type's fields in declaration order, or nil when the
// type is one protojson writes (ok false).
type plan struct {
	fields []field
	ok     bool
}

var plans sync.Map // protoreflect.MessageDescriptor → *plan

func planOf(md protoreflect.MessageDescriptor) *plan {
	if p, ok := plans.Load(md); ok {
		return p.(*plan)
	}
	p := &plan{ok: md.ExtensionRanges().Len() == 0}
	fields := md.Fields()
	for i := 0; i < fields.Len() && p.ok; i++ {
		fd := fields.Get(i)
		key, err := appendString(nil, fd.JSONName())
		if err != nil {
			p.ok = false
			break
		}
		p.fields = append(p.fields, field{fd: fd, key: append(key, ':')})
	}
	actual, _ := plans.LoadOrStore(md, p)
	return actual.(*plan)
}

func (e *encoder) message(m protoreflect.Message) bool {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return e.timestamp(m)
	case "google.protobuf.Value":
		v, ok := m.Interface().(*structpb.Value)
		return ok && e.value(v)
	case "google.protobuf.Struct":
		s, ok := m.Interface().(*structpb.Struct)
		return ok && e.structure(s)
	case "google.protobuf.ListValue":
		l, ok := m.Interface().(*structpb.ListValue)
		return ok && e.list(l)
	}
	if md.ParentFile().Package() == "google.protobuf" {
		return false // Any, Duration, FieldMask, wrappers, Empty: protojson's
	}
	p := planOf(md)
	if !p.ok {
		return false
	}
	e.out = append(e.out, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		if !m.Has(f.fd) {
			continue
		}
		if !first {
			e.out = append(e.out, ',')
		}
		first = false
		e.out = append(e.out, f.key...)
		v := m.Get(f.fd)
		var ok bool
		switch {
		case f.fd.IsList():
			ok = e.repeated(v.List(), f.fd)
		case f.fd.IsMap():
			ok = e.mapping(v.Map(), f.fd)
		default:
			ok = e.singular(v, f.fd)
		}
		if !ok {
			return false
		}
	}
	e.out = append(e.out, '}')
	return true
}

func (e *encoder) repeated(l protoreflect.List, fd protoreflect.FieldDescriptor) bool {
	e.out = append(e.out, '[')
	for i := 0; i < l.Len(); i++ {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		if !e.singular(l.Get(i), fd) {
			return false
		}
	}
	e.out = append(e.out, ']')
	return true
}

// mapping writes a map with its keys in protojson's order (order.GenericKeyOrder:
// false before true, numbers by value, strings by bytes).
func (e *encoder) mapping(mp protoreflect.Map, fd protoreflect.FieldDescriptor) bool {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, compareKeys)
	e.out = append(e.out, '{')
	for i, k := range keys {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		var err error
		if e.out, err = appendString(e.out, k.String()); err != nil {
			return false
		}
		e.out = append(e.out, ':')
		if !e.singular(mp.Get(k), fd.MapValue()) {
			return false
		}
	}
	e.out = append(e.out, '}')
	return true
}

func compareKeys(a, b protoreflect.MapKey) int {
	switch x := a.Interface().(type) {
	case bool:
		y := b.Bool()
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	case uint32, uint64:
		return cmp.Compare(a.Uint(), b.Uint())
	}
	return cmp.Compare(a.String(), b.String())
}

func (e *encoder) singular(v protoreflect.Value, fd protoreflect.FieldDescriptor) bool {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		e.out = strconv.AppendBool(e.out, v.Bool())
	case protoreflect.StringKind:
		var err error
		if e.out, err = appendString(e.out, v.String()); err != nil {
			return false
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		e.out = strconv.AppendInt(e.out, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		e.out = strconv.AppendUint(e.out, v.Uint(), 10)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		e.out = append(e.out, '"')
		e.out = strconv.AppendInt(e.out, v.Int(), 10)
		e.out = append(e.out, '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		e.out = append(e.out, '"')
		e.out = strconv.AppendUint(e.out, v.Uint(), 10)
		e.out = append(e.out, '"')
	case protoreflect.FloatKind:
		e.out = appendFloat(e.out, v.Float(), 32)
	case protoreflect.DoubleKind:
		e.out = appendFloat(e.out, v.Float(), 64)
	case protoreflect.BytesKind:
		e.out = append(e.out, '"')
		e.out = base64.StdEncoding.AppendEncode(e.out, v.Bytes())
		e.out = append(e.out, '"')
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			e.out = append(e.out, "null"...)
			break
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			e.out = append(e.out, '"')
			e.out = append(e.out, ev.Name()...) // proto names need no escape
			e.out = append(e.out, '"')
		} else {
			e.out = strconv.AppendInt(e.out, int64(v.Enum()), 10)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return e.message(v.Message())
	default:
		return false
	}
	return true
}

// The range protojson accepts for a Timestamp: years 1 to 9999.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// timestamp writes RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits,
// as protojson does.
func (e *encoder) timestamp(m protoreflect.Message) bool {
	ts, ok := m.Interface().(*timestamppb.Timestamp)
	if !ok {
		return false
	}
	secs, nanos := ts.GetSeconds(), ts.GetNanos()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos >= 1e9 {
		return false
	}
	e.out = append(e.out, '"')
	e.out = time.Unix(secs, int64(nanos)).UTC().AppendFormat(e.out, "2006-01-02T15:04:05")
	if nanos != 0 {
		frac := strconv.AppendInt(make([]byte, 0, 10), int64(nanos)+1e9, 10)[1:] // nine digits
		switch {
		case nanos%1e6 == 0:
			frac = frac[:3]
		case nanos%1e3 == 0:
			frac = frac[:6]
		}
		e.out = append(e.out, '.')
		e.out = append(e.out, frac...)
	}
	e.out = append(e.out, 'Z', '"')
	return true
}

func (e *encoder) value(v *structpb.Value) bool {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		e.out = append(e.out, "null"...)
	case *structpb.Value_NumberValue:
		if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
			return false
		}
		e.out = appendFloat(e.out, k.NumberValue, 64)
	case *structpb.Value_StringValue:
		var err error
		if e.out, err = appendString(e.out, k.StringValue); err != nil {
			return false
		}
	case *structpb.Value_BoolValue:
		e.out = strconv.AppendBool(e.out, k.BoolValue)
	case *structpb.Value_StructValue:
		return e.structure(k.StructValue)
	case *structpb.Value_ListValue:
		return e.list(k.ListValue)
	default:
		return false // no kind set: protojson refuses it
	}
	return true
}

func (e *encoder) structure(s *structpb.Struct) bool {
	keys := make([]string, 0, len(s.GetFields()))
	for k := range s.GetFields() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.out = append(e.out, '{')
	for i, k := range keys {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		var err error
		if e.out, err = appendString(e.out, k); err != nil {
			return false
		}
		e.out = append(e.out, ':')
		if !e.value(s.GetFields()[k]) {
			return false
		}
	}
	e.out = append(e.out, '}')
	return true
}

func (e *encoder) list(l *structpb.ListValue) bool {
	e.out = append(e.out, '[')
	for i, v := range l.GetValues() {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		if !e.value(v) {
			return false
		}
	}
	e.out = append(e.out, ']')
	return true
}

// errInvalidUTF8 is appendString's only error.
type errInvalidUTF8 struct{}

func (errInvalidUTF8) Error() string { return "invalid UTF-8" }

// appendString is protojson's string writer: '"', '\\' and control
// characters escaped, invalid UTF-8 refused.
func appendString(out []byte, in string) ([]byte, error) {
	out = append(out, '"')
	i := indexNeedEscape(in)
	in, out = in[i:], append(out, in[:i]...)
	for len(in) > 0 {
		switch r, n := utf8.DecodeRuneInString(in); {
		case r == utf8.RuneError && n == 1:
			return out, errInvalidUTF8{}
		case r < ' ' || r == '"' || r == '\\':
			out = append(out, '\\')
			switch r {
			case '"', '\\':
				out = append(out, byte(r))
			case '\b':
				out = append(out, 'b')
			case '\f':
				out = append(out, 'f')
			case '\n':
				out = append(out, 'n')
			case '\r':
				out = append(out, 'r')
			case '\t':
				out = append(out, 't')
			default:
				out = append(out, 'u')
				out = append(out, "0000"[1+(bits.Len32(uint32(r))-1)/4:]...)
				out = strconv.AppendUint(out, uint64(r), 16)
			}
			in = in[n:]
		default:
			i := indexNeedEscape(in[n:])
			in, out = in[n+i:], append(out, in[:n+i]...)
		}
	}
	return append(out, '"'), nil
}

// indexNeedEscape is the index of the first byte of in that appendString
// cannot copy as it is: ASCII is checked byte by byte, the rest rune by rune.
func indexNeedEscape(in string) int {
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == '"' || c == '\\' {
				return i
			}
			continue
		}
		for j, r := range in[i:] {
			if r < ' ' || r == '\\' || r == '"' || r == utf8.RuneError {
				return i + j
			}
		}
		return len(in)
	}
	return len(in)
}

// appendFloat is protojson's number writer (encoding/json's spelling);
// NaN and the infinities are strings.
func appendFloat(out []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, format, -1, bitSize)
	if format == 'e' {
		n := len(out)
		if n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}
