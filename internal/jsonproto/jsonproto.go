// Package jsonproto decodes HighLevel's JSON into hlgate's proto messages by
// JSON name, without losing anything HighLevel sent.
//
// Upstream JSON is messier than its documents: custom field values are
// strings, numbers, arrays or objects; times are RFC 3339 strings or epoch
// milliseconds; keys appear that no document declares. protojson refuses all
// of that, and a hand-written copy drops it. Decode instead keeps every key:
//   - a key with a field of the same JSON name (or proto name) fills it;
//     google.protobuf.Value, Struct and ListValue fields take any JSON;
//     Timestamp fields take RFC 3339 strings and epoch milliseconds;
//   - a key with no field, or whose value does not fit its field, is kept
//     intact, with its JSON type, in the message's "unmapped" field (a
//     google.protobuf.Struct) when it has one, and is always reported, so it
//     can be counted and declared later.
//
// It is the decoding half of the generic call path; the server's per-RPC
// conversions move onto it operation by operation.
package jsonproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// UnmappedField is the name of the google.protobuf.Struct field, in any
// message, that keeps the keys of HighLevel's JSON the message has no field
// for, or whose value does not fit its field.
const UnmappedField protoreflect.Name = "unmapped"

// Kind says why a key was not decoded into a field of its own.
type Kind string

// The kinds of report.
const (
	// Undeclared: the message has no field for the key.
	Undeclared Kind = "undeclared"
	// Mismatch: the key's value does not fit its field's type (a number
	// where the field is a string, an array where it is a message).
	Mismatch Kind = "mismatch"
	// Coerced: the value was converted without loss (an epoch-ms time into
	// a Timestamp); the field holds it.
	Coerced Kind = "coerced"
)

// Finding is one key that did not decode into a field of its own type.
type Finding struct {
	// Path is the key's JSON path (contact.customFields[2].value).
	Path string
	Kind Kind
	// Kept is false only when the message had no unmapped field to keep the
	// value in: the value reached the caller nowhere, and the finding is the
	// only trace of it.
	Kept bool
}

// Report lists what Decode could not place in a field of its own, in the
// order met.
type Report []Finding

// Lost reports the findings whose value was kept nowhere.
func (r Report) Lost() []Finding {
	var out []Finding
	for _, f := range r {
		if !f.Kept {
			out = append(out, f)
		}
	}
	return out
}

// Decode fills m from the JSON object in data. It fails only when data is
// not JSON or not an object; everything else is decoded or kept and
// reported.
func Decode(data []byte, m proto.Message) (Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("jsonproto: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("jsonproto: want a JSON object, got %s", jsonType(v))
	}
	var r Report
	decodeObject(obj, m.ProtoReflect(), "", &r)
	return r, nil
}

// keeper is where keys that fit no field are kept: the unmapped Struct of
// the nearest enclosing message that has one, under their path relative to
// it (one Struct per resource keeps the keys of its nested objects too).
type keeper struct {
	m      protoreflect.Message
	fd     protoreflect.FieldDescriptor // nil: nowhere to keep
	prefix string
}

func (k keeper) below(key string) keeper {
	k.prefix = join(k.prefix, key)
	return k
}

// DecodeMap fills m from a JSON object already parsed with a json.Decoder
// that has UseNumber set (numbers are json.Number), for answers whose
// envelope the caller reads itself (a page of resources with its cursor).
func DecodeMap(obj map[string]any, m proto.Message) Report {
	var r Report
	decodeObject(obj, m.ProtoReflect(), "", &r)
	return r
}

func decodeObject(obj map[string]any, m protoreflect.Message, path string, r *Report) {
	decodeInto(obj, m, path, keeper{}, r)
}

func decodeInto(obj map[string]any, m protoreflect.Message, path string, parent keeper, r *Report) {
	fields := m.Descriptor().Fields()
	k := parent
	if u := fields.ByName(UnmappedField); u != nil && u.Message() != nil && u.Message().FullName() == "google.protobuf.Struct" {
		k = keeper{m: m, fd: u}
	}
	for _, key := range sortedKeys(obj) {
		val := obj[key]
		p := join(path, key)
		fd := fieldFor(fields, key)
		if fd == nil || fd == k.fd && k.m == m {
			keep(k, key, val, p, Undeclared, r)
			continue
		}
		if val == nil {
			continue // null: the field stays unset
		}
		coerced, ok := setField(m, fd, val, p, k.below(key), r)
		switch {
		case !ok:
			keep(k, key, val, p, Mismatch, r)
		case coerced:
			*r = append(*r, Finding{Path: p, Kind: Coerced, Kept: true})
		}
	}
}

// fieldFor finds the field for a JSON key: by JSON name, by proto name, then
// by JSON name in any case (HighLevel spells some keys in capitals, such as
// dndSettings' "Email" and "SMS").
func fieldFor(fields protoreflect.FieldDescriptors, key string) protoreflect.FieldDescriptor {
	if fd := fields.ByJSONName(key); fd != nil {
		return fd
	}
	if fd := fields.ByName(protoreflect.Name(key)); fd != nil {
		return fd
	}
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); strings.EqualFold(fd.JSONName(), key) {
			return fd
		}
	}
	return nil
}

// keep stores val in the keeper's Struct, when there is one.
func keep(k keeper, key string, val any, path string, kind Kind, r *Report) {
	f := Finding{Path: path, Kind: kind}
	if k.fd != nil {
		if v, err := structpb.NewValue(plain(val)); err == nil {
			// Merged, not asserted to *structpb.Struct: the message may be
			// dynamic (built from a descriptor), not generated.
			proto.Merge(k.m.Mutable(k.fd).Message().Interface(), &structpb.Struct{Fields: map[string]*structpb.Value{join(k.prefix, key): v}})
			f.Kept = true
		}
	}
	*r = append(*r, f)
}

// setField sets fd from a JSON value. ok is false when the value does not
// fit; coerced is true when it fit only after a lossless conversion.
func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, val any, path string, k keeper, r *Report) (coerced, ok bool) {
	switch {
	case fd.IsList():
		arr, isArr := val.([]any)
		if !isArr {
			return false, false
		}
		// Decode into a fresh list, so a list that does not fit is kept
		// whole elsewhere rather than half set.
		list := m.NewField(fd).List()
		for i, e := range arr {
			if e == nil {
				return false, false
			}
			v, c, ok := value(fd, list.NewElement, e, fmt.Sprintf("%s[%d]", path, i), k.below(strconv.Itoa(i)), r)
			if !ok {
				return false, false
			}
			coerced = coerced || c
			list.Append(v)
		}
		m.Set(fd, protoreflect.ValueOfList(list))
		return coerced, true
	case fd.IsMap():
		obj, isObj := val.(map[string]any)
		if !isObj {
			return false, false
		}
		mp := m.NewField(fd).Map()
		for _, key := range sortedKeys(obj) {
			mk, ok := mapKey(fd.MapKey(), key)
			if !ok || obj[key] == nil {
				return false, false
			}
			v, c, ok := value(fd.MapValue(), mp.NewValue, obj[key], join(path, key), k.below(key), r)
			if !ok {
				return false, false
			}
			coerced = coerced || c
			mp.Set(mk, v)
		}
		m.Set(fd, protoreflect.ValueOfMap(mp))
		return coerced, true
	}
	v, c, ok := value(fd, func() protoreflect.Value { return m.NewField(fd) }, val, path, k, r)
	if !ok {
		return false, false
	}
	m.Set(fd, v)
	return c, true
}

// value converts one JSON value for a field (or list element, or map value)
// of fd's kind. newMsg makes an empty message of the field's type.
func value(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, val any, path string, k keeper, r *Report) (v protoreflect.Value, coerced, ok bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s, ok := val.(string)
		return protoreflect.ValueOfString(s), false, ok
	case protoreflect.BoolKind:
		b, ok := val.(bool)
		return protoreflect.ValueOfBool(b), false, ok
	case protoreflect.BytesKind:
		s, ok := val.(string)
		if !ok {
			return v, false, false
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return protoreflect.ValueOfBytes(b), false, err == nil
	case protoreflect.EnumKind:
		return enumValue(fd.Enum(), val)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageValue(fd.Message(), newMsg, val, path, k, r)
	}
	n, isNum := val.(json.Number)
	if !isNum {
		return v, false, false
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, err := strconv.ParseInt(n.String(), 10, 32)
		return protoreflect.ValueOfInt32(int32(i)), false, err == nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		return protoreflect.ValueOfInt64(i), false, err == nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		i, err := strconv.ParseUint(n.String(), 10, 32)
		return protoreflect.ValueOfUint32(uint32(i)), false, err == nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		i, err := strconv.ParseUint(n.String(), 10, 64)
		return protoreflect.ValueOfUint64(i), false, err == nil
	case protoreflect.FloatKind:
		f, err := n.Float64()
		return protoreflect.ValueOfFloat32(float32(f)), false, err == nil && math.Abs(f) <= math.MaxFloat32
	case protoreflect.DoubleKind:
		f, err := n.Float64()
		return protoreflect.ValueOfFloat64(f), false, err == nil
	}
	return v, false, false
}

// enumValue accepts an enum's proto name ("OPPORTUNITY_STATUS_WON") or
// HighLevel's value for it, the proto name's last part in any case ("won").
func enumValue(ed protoreflect.EnumDescriptor, val any) (protoreflect.Value, bool, bool) {
	s, ok := val.(string)
	if !ok {
		return protoreflect.Value{}, false, false
	}
	if ev := ed.Values().ByName(protoreflect.Name(s)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), false, true
	}
	want := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	for i := 0; i < ed.Values().Len(); i++ {
		ev := ed.Values().Get(i)
		if ev.Number() != 0 && strings.HasSuffix(string(ev.Name()), "_"+want) {
			return protoreflect.ValueOfEnum(ev.Number()), false, true
		}
	}
	return protoreflect.Value{}, false, false
}

func messageValue(md protoreflect.MessageDescriptor, newMsg func() protoreflect.Value, val any, path string, k keeper, r *Report) (protoreflect.Value, bool, bool) {
	switch md.FullName() {
	case "google.protobuf.Value":
		v, err := structpb.NewValue(plain(val))
		if err != nil {
			return protoreflect.Value{}, false, false
		}
		return into(newMsg, v), false, true
	case "google.protobuf.Struct":
		obj, ok := val.(map[string]any)
		if !ok {
			return protoreflect.Value{}, false, false
		}
		st, err := structpb.NewStruct(plain(obj).(map[string]any))
		if err != nil {
			return protoreflect.Value{}, false, false
		}
		return into(newMsg, st), false, true
	case "google.protobuf.ListValue":
		arr, ok := val.([]any)
		if !ok {
			return protoreflect.Value{}, false, false
		}
		lv, err := structpb.NewList(plain(arr).([]any))
		if err != nil {
			return protoreflect.Value{}, false, false
		}
		return into(newMsg, lv), false, true
	case "google.protobuf.Timestamp":
		ts, coerced, ok := timestampValue(val)
		if !ok {
			return protoreflect.Value{}, false, false
		}
		return into(newMsg, ts), coerced, true
	}
	obj, ok := val.(map[string]any)
	if !ok {
		return protoreflect.Value{}, false, false
	}
	v := newMsg()
	decodeInto(obj, v.Message(), path, k, r)
	return v, false, true
}

// timestampValue takes RFC 3339 (HighLevel's documented form) or epoch
// milliseconds (what several endpoints send instead); the latter is
// reported as coerced.
func timestampValue(val any) (ts *timestamppb.Timestamp, coerced, ok bool) {
	switch t := val.(type) {
	case string:
		tm, err := time.Parse(time.RFC3339Nano, t)
		return timestamppb.New(tm), false, err == nil
	case json.Number:
		ms, err := strconv.ParseInt(t.String(), 10, 64)
		return timestamppb.New(time.UnixMilli(ms)), true, err == nil
	}
	return nil, false, false
}

// into copies a well-known message into a new value of the field's own
// message type (generated or dynamic).
func into(newMsg func() protoreflect.Value, src proto.Message) protoreflect.Value {
	v := newMsg()
	proto.Merge(v.Message().Interface(), src)
	return v
}

func mapKey(fd protoreflect.FieldDescriptor, k string) (protoreflect.MapKey, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(k).MapKey(), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, err := strconv.ParseInt(k, 10, 32)
		return protoreflect.ValueOfInt32(int32(i)).MapKey(), err == nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		i, err := strconv.ParseInt(k, 10, 64)
		return protoreflect.ValueOfInt64(i).MapKey(), err == nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(k)
		return protoreflect.ValueOfBool(b).MapKey(), err == nil
	}
	return protoreflect.MapKey{}, false
}

// plain turns json.Number into float64, the only number structpb keeps.
// Integers beyond 2^53 lose precision there, as in any JSON parser that
// follows the JSON number model; they are kept as the string of their
// digits instead, so no digit is lost.
func plain(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		if err != nil || (!strings.ContainsAny(t.String(), ".eE") && math.Abs(f) >= 1<<53) {
			return t.String()
		}
		return f
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// sortedKeys gives findings and map insertion a stable order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
