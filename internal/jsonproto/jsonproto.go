// Package jsonproto decodes HighLevel's JSON into hlgate's proto messages by
// JSON name, without losing anything HighLevel sent, and encodes hlgate's
// messages into the JSON HighLevel takes.
//
// Upstream JSON is messier than its documents: custom field values are
// strings, numbers, arrays or objects; times are RFC 3339 strings or epoch
// milliseconds; keys appear that no document declares. protojson refuses all
// of that, and a hand-written copy drops it. Decode instead keeps every key:
//   - a key with a field of the same JSON name (or the field's
//     (hlgate.v1.wire) name or read alias, or its proto name) fills it; a
//     dotted wire key reads a member of nested objects that have no field
//     (an order's amountSummary.subtotal), moving it out of the object
//     that is kept;
//     google.protobuf.Value, Struct and ListValue fields take any JSON;
//     Timestamp fields take RFC 3339 strings and epoch milliseconds;
//   - a key with no field, or whose value does not fit its field, or that
//     repeats a field another key already filled with something else, is
//     kept intact, with its JSON type, in the message's "unmapped" field (a
//     google.protobuf.Struct) when it has one, and is always reported, so it
//     can be counted and declared later.
//
// Encode is the other direction: the fields a write may send, under the
// keys HighLevel takes, as a map that encoding/json marshals.
//
// It is the JSON half of the generic call path; the server's per-RPC
// conversions move onto it operation by operation.
package jsonproto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// Conflict: another key for the same field (a read alias, the proto
	// name, another case, another member of the same oneof) already filled
	// it with different JSON; this key's value is kept, not decoded.
	Conflict Kind = "conflict"
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

// path is the JSON path of the value being decoded: keys, and list
// elements' indexes. One per Decode, pushed and popped as the decoder
// descends, it is rendered only for a finding: most keys decode into their
// field and never need theirs.
type path struct {
	steps []step
}

type step struct {
	key   string
	index int // a list element's index; -1 for a key
}

func (p *path) push(key string) { p.steps = append(p.steps, step{key: key, index: -1}) }

func (p *path) pushIndex(i int) { p.steps = append(p.steps, step{index: i}) }

func (p *path) pop() { p.steps = p.steps[:len(p.steps)-1] }

func (p *path) depth() int { return len(p.steps) }

// String renders the path as findings show it: customFields[2].value.
func (p *path) String() string { return p.render(0, false) }

// below renders the path's steps below depth d, an index written as a key
// ("items.2.name"): the form of a key kept in an unmapped Struct, relative
// to the message at depth d that keeps it.
func (p *path) below(d int) string { return p.render(d, true) }

func (p *path) render(from int, dotted bool) string {
	var b strings.Builder
	for _, s := range p.steps[from:] {
		if s.index >= 0 && !dotted {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if s.index >= 0 {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// keeper is where keys that fit no field are kept: the unmapped Struct of
// the nearest enclosing message that has one, under their path relative to
// it (one Struct per resource keeps the keys of its nested objects too).
type keeper struct {
	m     protoreflect.Message
	fd    protoreflect.FieldDescriptor // nil: nowhere to keep
	depth int                          // the depth of m's path
	// collided, when not nil, is set when a key is kept that the Struct
	// already holds: the stream decoder's sign that the tree's key order
	// must decide which value stays.
	collided *bool
}

// DecodeMap fills m from a JSON object already parsed with a json.Decoder
// that has UseNumber set (numbers are json.Number), for answers whose
// envelope the caller reads itself (a page of resources with its cursor).
func DecodeMap(obj map[string]any, m proto.Message) Report {
	var r Report
	decodeObject(obj, m.ProtoReflect(), &path{steps: make([]step, 0, 8)}, &r)
	return r
}

func decodeObject(obj map[string]any, m protoreflect.Message, p *path, r *Report) {
	decodeInto(obj, m, p, keeper{}, r)
}

func decodeInto(obj map[string]any, m protoreflect.Message, p *path, parent keeper, r *Report) {
	md := m.Descriptor()
	kt := keyTableOf(md)
	k := parent
	if kt.unmapped != nil {
		k = keeper{m: m, fd: kt.unmapped, depth: p.depth(), collided: parent.collided}
	}
	obj = lift(kt, obj)
	keys := claimKeys(kt, obj)
	for i, ck := range keys {
		if ck.fd == nil {
			p.push(ck.key)
			keep(k, p, obj[ck.key], Undeclared, r)
			p.pop()
			continue
		}
		// A field's keys are decoded together, when its first key is met,
		// so which key wins depends on the declaration, not on the order
		// HighLevel wrote them in.
		if slices.ContainsFunc(keys[:i], func(c claimedKey) bool { return c.fd == ck.fd }) {
			continue
		}
		var buf [4]claimedKey
		group := buf[:0]
		for _, c := range keys[i:] {
			if c.fd == ck.fd {
				group = append(group, c)
			}
		}
		// Stable: keys of equal rank (case variants) stay in key order.
		slices.SortStableFunc(group, func(a, b claimedKey) int { return a.rank - b.rank })
		decodeField(obj, m, ck.fd, group, p, k, r)
	}
}

// decodeField fills fd from the first of its keys (in the order they win)
// whose value is not null and fits. A later key holding the same JSON is
// consumed silently; one holding different JSON is kept and reported as a
// Conflict, so the field's value and the other spelling's both reach the
// caller.
func decodeField(obj map[string]any, m protoreflect.Message, fd protoreflect.FieldDescriptor, keys []claimedKey, p *path, k keeper, r *Report) {
	var filled any
	isFilled := false
	for _, ck := range keys {
		val := obj[ck.key]
		if val == nil {
			continue // null: the field stays unset unless another key fills it
		}
		p.push(ck.key)
		switch {
		case isFilled:
			if !sameJSON(val, filled) {
				keep(k, p, val, Conflict, r)
			}
		case oneofTaken(m, fd):
			// Another member of the same oneof already holds a value:
			// setting this one would clear it.
			keep(k, p, val, Conflict, r)
		default:
			coerced, ok := setField(m, fd, val, p, k, r)
			switch {
			case !ok:
				keep(k, p, val, Mismatch, r)
			case coerced:
				*r = append(*r, Finding{Path: p.String(), Kind: Coerced, Kept: true})
				fallthrough
			default:
				filled, isFilled = val, true
			}
		}
		p.pop()
	}
}

// oneofTaken reports whether another member of fd's oneof holds a value.
func oneofTaken(m protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	od := fd.ContainingOneof()
	if od == nil || od.IsSynthetic() {
		return false
	}
	set := m.WhichOneof(od)
	return set != nil && set != fd
}

// lift moves the members that dotted keys name (a wire name or read alias
// "amountSummary.subtotal": the member subtotal of the object under
// amountSummary) up into obj under the dotted key, so that they are claimed
// like any other key. Each member is moved, not copied: the rest of its
// object stays and is kept like any undeclared key, so nothing is lost and
// nothing is kept twice; an object left empty goes. obj itself is not
// modified. A key of obj spelled with the dot itself wins over the member.
// Dotted keys are for objects that have no field of their own (HighLevel's
// snapshots and summaries, flattened into a resource's fields).
func lift(kt *keyTable, obj map[string]any) map[string]any {
	out, copied := obj, false
	for _, d := range kt.dotted {
		if _, literal := out[d.key]; literal {
			continue
		}
		val, rest, ok := without(out, d.parts)
		if !ok {
			continue
		}
		if !copied {
			out, copied = maps.Clone(out), true
		}
		if rest == nil {
			delete(out, d.parts[0])
		} else {
			out[d.parts[0]] = rest
		}
		out[d.key] = val
	}
	return out
}

// without finds the member at path (two or more keys) under obj: its value,
// and a copy of obj[path[0]] without it (nil when nothing else is left).
func without(obj map[string]any, path []string) (val any, rest map[string]any, ok bool) {
	child, isObj := obj[path[0]].(map[string]any)
	if !isObj {
		return nil, nil, false
	}
	c := maps.Clone(child)
	if len(path) == 2 {
		if val, ok = child[path[1]]; !ok {
			return nil, nil, false
		}
		delete(c, path[1])
	} else {
		var sub map[string]any
		if val, sub, ok = without(child, path[1:]); !ok {
			return nil, nil, false
		}
		if sub == nil {
			delete(c, path[1])
		} else {
			c[path[1]] = sub
		}
	}
	if len(c) == 0 {
		return val, nil, true
	}
	return val, c, true
}

// claimedKey is one key of a JSON object, the field it fills (nil: none)
// and how well the key spells it.
type claimedKey struct {
	key  string
	fd   protoreflect.FieldDescriptor
	rank int
}

// keyClaim is a field a key may fill, and how well the key spells it.
type keyClaim struct {
	fd    protoreflect.FieldDescriptor
	rank  int
	key   string // the key itself
	index int    // fd's index in keyTable.decl
}

// dottedKey is a primary key or read alias that names a member of nested
// objects (amountSummary.subtotal), split at its dots.
type dottedKey struct {
	key   string
	parts []string
}

// keyTable is what decoding needs of a message, read once per message type
// from its descriptor and options (reading the options is most of a
// decode's cost otherwise).
type keyTable struct {
	byKey      map[string]keyClaim
	decl       []protoreflect.FieldDescriptor // every field but unmapped
	primary    []string                       // decl's primary keys
	maxAliases int
	// folded maps each primary key in ASCII lower case to its first field's
	// index in decl; nil when a primary key is not ASCII.
	folded   map[string]int
	dotted   []dottedKey                  // in field order, primary key first
	unmapped protoreflect.FieldDescriptor // nil: the message keeps nothing
}

// keyTables caches keyTable by message descriptor.
var keyTables sync.Map

func keyTableOf(md protoreflect.MessageDescriptor) *keyTable {
	if kt, ok := keyTables.Load(md); ok {
		return kt.(*keyTable)
	}
	kt := &keyTable{byKey: map[string]keyClaim{}, unmapped: unmappedField(md)}
	add := func(key string, index, rank int) {
		if _, taken := kt.byKey[key]; !taken {
			kt.byKey[key] = keyClaim{fd: kt.decl[index], rank: rank, key: key, index: index}
		}
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		for _, key := range append([]string{primaryKey(fd)}, wireOf(fd).GetReadAliases()...) {
			if strings.Contains(key, ".") {
				kt.dotted = append(kt.dotted, dottedKey{key, strings.Split(key, ".")})
			}
		}
		if !isUnmapped(fd) {
			kt.decl = append(kt.decl, fd)
			kt.primary = append(kt.primary, primaryKey(fd))
		}
	}
	for i := range kt.decl {
		add(kt.primary[i], i, 0)
	}
	for i, fd := range kt.decl {
		aliases := wireOf(fd).GetReadAliases()
		for j, a := range aliases {
			add(a, i, 1+j)
		}
		kt.maxAliases = max(kt.maxAliases, len(aliases))
	}
	for i, fd := range kt.decl {
		add(string(fd.Name()), i, 1+kt.maxAliases)
	}
	kt.folded = map[string]int{}
	for i, key := range kt.primary {
		if !isASCII(key) {
			kt.folded = nil
			break
		}
		if _, taken := kt.folded[strings.ToLower(key)]; !taken {
			kt.folded[strings.ToLower(key)] = i
		}
	}
	actual, _ := keyTables.LoadOrStore(md, kt)
	return actual.(*keyTable)
}

// claimKeys lists the keys of obj in key order, each with the field it
// fills. A field's keys rank, best first:
//  1. its primary key, wire.name or else the JSON name;
//  2. its wire.read_aliases, in declaration order;
//  3. its proto name (first_name);
//  4. its primary key in any other case (HighLevel spells some keys in
//     capitals, such as dndSettings' "Email" and "SMS"), in key order.
//
// A key two fields could claim goes to the one whose claim ranks higher
// (a primary key before another field's alias), then to the field declared
// first. The unmapped field claims nothing: a key "unmapped" is undeclared.
func claimKeys(kt *keyTable, obj map[string]any) []claimedKey {
	keys := make([]claimedKey, 0, len(obj))
	for key := range obj {
		ck := claimedKey{key: key}
		if cl, ok := kt.claim(key); ok {
			ck.fd, ck.rank = cl.fd, cl.rank
		}
		keys = append(keys, ck)
	}
	slices.SortFunc(keys, func(a, b claimedKey) int { return strings.Compare(a.key, b.key) })
	return keys
}

// claim is the field key fills, if any: its own (primary key, read alias,
// proto name), or else the first whose primary key it spells in another
// case.
func (kt *keyTable) claim(key string) (keyClaim, bool) {
	if cl, ok := kt.byKey[key]; ok {
		return cl, true
	}
	if kt.folded != nil && isASCII(key) && len(key) <= 64 {
		// An ASCII key spells an ASCII primary key in another case exactly
		// when their lower cases are equal.
		var buf [64]byte
		lower := buf[:len(key)]
		for i := range len(key) {
			c := key[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if i, ok := kt.folded[string(lower)]; ok {
			return keyClaim{fd: kt.decl[i], rank: 2 + kt.maxAliases, key: key, index: i}, true
		}
		return keyClaim{}, false
	}
	for i, fd := range kt.decl {
		if strings.EqualFold(kt.primary[i], key) {
			return keyClaim{fd: fd, rank: 2 + kt.maxAliases, key: key, index: i}, true
		}
	}
	return keyClaim{}, false
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sameJSON reports whether two JSON values (numbers as json.Number) are
// the same JSON: same types, numbers equal as a Value would hold them.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		return ok && (x == y || plain(x) == plain(y))
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for key, e := range x {
			f, ok := y[key]
			if !ok || !sameJSON(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// keep stores val in the keeper's Struct, when there is one, under its path
// below the keeper's message.
func keep(k keeper, p *path, val any, kind Kind, r *Report) {
	f := Finding{Path: p.String(), Kind: kind}
	if k.fd != nil {
		if v, err := newValue(val); err == nil {
			key := p.below(k.depth)
			// A generated message's Struct is set directly; a dynamic one
			// (built from a descriptor) is merged into.
			if st, ok := k.m.Mutable(k.fd).Message().Interface().(*structpb.Struct); ok {
				if st.Fields == nil {
					st.Fields = map[string]*structpb.Value{}
				}
				if _, held := st.Fields[key]; held && k.collided != nil {
					*k.collided = true
				}
				st.Fields[key] = v
			} else {
				sm := k.m.Mutable(k.fd).Message()
				if fields := sm.Descriptor().Fields().ByName("fields"); k.collided != nil && fields != nil &&
					sm.Get(fields).Map().Has(protoreflect.ValueOfString(key).MapKey()) {
					*k.collided = true
				}
				proto.Merge(sm.Interface(), &structpb.Struct{Fields: map[string]*structpb.Value{key: v}})
			}
			f.Kept = true
		}
	}
	*r = append(*r, f)
}

// setField sets fd from a JSON value. ok is false when the value does not
// fit; coerced is true when it fit only after a lossless conversion.
func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, val any, p *path, k keeper, r *Report) (coerced, ok bool) {
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
			p.pushIndex(i)
			v, c, ok := value(fd, list.NewElement, e, p, k, r)
			p.pop()
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
			p.push(key)
			v, c, ok := value(fd.MapValue(), mp.NewValue, obj[key], p, k, r)
			p.pop()
			if !ok {
				return false, false
			}
			coerced = coerced || c
			mp.Set(mk, v)
		}
		m.Set(fd, protoreflect.ValueOfMap(mp))
		return coerced, true
	}
	if fd.Kind() == protoreflect.StringKind {
		s, ok := val.(string)
		if ok {
			setString(m, fd, s)
		}
		return false, ok
	}
	v, c, ok := value(fd, func() protoreflect.Value { return m.NewField(fd) }, val, p, k, r)
	if !ok {
		return false, false
	}
	m.Set(fd, v)
	return c, true
}

// value converts one JSON value for a field (or list element, or map value)
// of fd's kind. newMsg makes an empty message of the field's type.
func value(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, val any, p *path, k keeper, r *Report) (v protoreflect.Value, coerced, ok bool) {
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
		return messageValue(fd.Message(), newMsg, val, p, k, r)
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

// enumValue accepts an enum's proto name ("OPPORTUNITY_STATUS_WON"), a
// value's wire_value, or HighLevel's spelling of the name's last part in
// any case, with underscores or hyphens ("won", "ms_teams", "ms-teams") or
// without them ("noshow", the default spelling Encode writes). Suffixes are
// tried on every value before the spelling without underscores, so
// MEETING_LOCATION_TYPE_MS_TEAMS is never mistaken for a value named
// ..._MSTEAMS. The zero value is never matched but by its proto name.
func enumValue(ed protoreflect.EnumDescriptor, val any) (protoreflect.Value, bool, bool) {
	s, ok := val.(string)
	if !ok {
		return protoreflect.Value{}, false, false
	}
	values := ed.Values()
	if ev := values.ByName(protoreflect.Name(s)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), false, true
	}
	for i := 0; i < values.Len(); i++ {
		if ev := values.Get(i); explicitWireValue(ev) == s && s != "" {
			return protoreflect.ValueOfEnum(ev.Number()), false, true
		}
	}
	want := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	for i := 0; i < values.Len(); i++ {
		ev := values.Get(i)
		if ev.Number() != 0 && strings.HasSuffix(string(ev.Name()), "_"+want) {
			return protoreflect.ValueOfEnum(ev.Number()), false, true
		}
	}
	if sq := squash(s); sq != "" {
		for i := 0; i < values.Len(); i++ {
			if ev := values.Get(i); ev.Number() != 0 && defaultWireValue(ev) == sq {
				return protoreflect.ValueOfEnum(ev.Number()), false, true
			}
		}
	}
	return protoreflect.Value{}, false, false
}

func messageValue(md protoreflect.MessageDescriptor, newMsg func() protoreflect.Value, val any, p *path, k keeper, r *Report) (protoreflect.Value, bool, bool) {
	switch md.FullName() {
	case "google.protobuf.Value":
		v, err := newValue(val)
		if err != nil {
			return protoreflect.Value{}, false, false
		}
		return into(newMsg, v), false, true
	case "google.protobuf.Struct":
		obj, ok := val.(map[string]any)
		if !ok {
			return protoreflect.Value{}, false, false
		}
		st, err := newStruct(obj)
		if err != nil {
			return protoreflect.Value{}, false, false
		}
		return into(newMsg, st), false, true
	case "google.protobuf.ListValue":
		arr, ok := val.([]any)
		if !ok {
			return protoreflect.Value{}, false, false
		}
		lv, err := newList(arr)
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
	decodeInto(obj, v.Message(), p, k, r)
	return v, false, true
}

// timestampValue takes RFC 3339 (HighLevel's documented form), epoch
// milliseconds as a number (what several endpoints send instead) or as a
// string of digits, whatever the field's wire.time declares: reads accept
// every form. Epoch milliseconds are reported as coerced. A time outside
// the years 1 to 9999 does not fit a Timestamp (protojson could not write
// it back) and is a mismatch.
func timestampValue(val any) (ts *timestamppb.Timestamp, coerced, ok bool) {
	switch t := val.(type) {
	case string:
		return timestampString(t)
	case json.Number:
		ms, err := strconv.ParseInt(t.String(), 10, 64)
		ts = timestamppb.New(time.UnixMilli(ms))
		return ts, true, err == nil && ts.CheckValid() == nil
	}
	return nil, false, false
}

// timestampString is timestampValue for a string.
func timestampString(t string) (ts *timestamppb.Timestamp, coerced, ok bool) {
	if isDigits(t) {
		ms, err := strconv.ParseInt(t, 10, 64)
		ts = timestamppb.New(time.UnixMilli(ms))
		return ts, true, err == nil && ts.CheckValid() == nil
	}
	tm, err := time.Parse(time.RFC3339Nano, t)
	ts = timestamppb.New(tm)
	return ts, false, err == nil && ts.CheckValid() == nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// into copies a well-known message into a new value of the field's own
// message type (generated or dynamic).
func into(newMsg func() protoreflect.Value, src proto.Message) protoreflect.Value {
	v := newMsg()
	if sm := src.ProtoReflect(); v.Message().Type() == sm.Type() {
		return protoreflect.ValueOfMessage(sm) // the field's own type: src itself
	}
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
		if f, ok := plainNumber(t.String()); ok {
			return f
		}
		return t.String()
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

// plainNumber is plain for a number's literal text: its float64, or false
// when it is kept as the string of its digits.
func plainNumber(t string) (float64, bool) {
	f, err := strconv.ParseFloat(t, 64) // as json.Number's Float64
	return f, err == nil && (strings.ContainsAny(t, ".eE") || math.Abs(f) < 1<<53)
}

// newValue is structpb.NewValue(plain(v)) without the copy plain makes: a
// decoded JSON value (numbers as json.Number) as a google.protobuf.Value.
func newValue(v any) (*structpb.Value, error) {
	switch t := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case bool:
		return structpb.NewBoolValue(t), nil
	case string:
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("invalid UTF-8 in string: %q", t)
		}
		return structpb.NewStringValue(t), nil
	case json.Number:
		switch n := plain(t).(type) {
		case float64:
			return structpb.NewNumberValue(n), nil
		case string:
			return structpb.NewStringValue(n), nil
		}
	case map[string]any:
		st, err := newStruct(t)
		if err != nil {
			return nil, err
		}
		return structpb.NewStructValue(st), nil
	case []any:
		lv, err := newList(t)
		if err != nil {
			return nil, err
		}
		return structpb.NewListValue(lv), nil
	}
	return nil, fmt.Errorf("invalid type: %T", v)
}

func newStruct(obj map[string]any) (*structpb.Struct, error) {
	st := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(obj))}
	for k, e := range obj {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("invalid UTF-8 in string: %q", k)
		}
		v, err := newValue(e)
		if err != nil {
			return nil, err
		}
		st.Fields[k] = v
	}
	return st, nil
}

func newList(arr []any) (*structpb.ListValue, error) {
	lv := &structpb.ListValue{Values: make([]*structpb.Value, len(arr))}
	for i, e := range arr {
		v, err := newValue(e)
		if err != nil {
			return nil, err
		}
		lv.Values[i] = v
	}
	return lv, nil
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
