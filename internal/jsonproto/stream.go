package jsonproto

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The stream decoder reads HighLevel's JSON once, token by token, straight
// into the message: declared keys never become a map[string]any, and a
// message's keys are never sorted. It gives exactly what the tree decoder
// (Parse, then decodeInto) gives, the same message and the same report in
// the same order, because every value it does not stream (a scalar, an
// enum, a time, a well-known message, a map, a key that fits no field) is
// parsed into a tree and handed to the tree decoder's own functions.
//
// What the stream cannot decide on its own, it leaves to the tree decoder
// and starts over:
//   - two keys of one object that fill one field (a read alias beside the
//     primary key, another case, a key written twice), or two members of
//     one oneof: which wins depends on keys not yet read;
//   - two values kept under one key of an unmapped Struct (a literal dotted
//     key beside a nested object's kept key): the tree's key order decides;
//   - anything that is not JSON, so that the error is the tree's.
//
// Those are rare in HighLevel's answers; a restart costs one more parse.
// Messages with dotted keys (lift) are decoded as trees inside the stream.

// errRestart stops the stream decoder: the tree decoder decides instead.
var errRestart = errors.New("jsonproto: decode as a tree")

// streamer is one stream decode.
type streamer struct {
	parser
	path      path
	report    Report
	collision bool // a keeper was given a key it already held
	// passOmitted makes object pass over the omitted key's value and
	// return it as it came, a []byte, instead of parsing it.
	passOmitted bool
	// page, for DecodePage, takes its keys out of the top-level object
	// and its records.
	page *pageState
}

// newStreamer is a stream decode of data, its strings cut from one copy.
func newStreamer(data []byte) *streamer {
	return &streamer{parser: parser{data: data, whole: string(data)}, path: path{steps: make([]step, 0, 8)}}
}

// Decode fills m from the JSON object in data. It fails only when data is
// not JSON or not an object; everything else is decoded or kept and
// reported.
func Decode(data []byte, m proto.Message) (Report, error) {
	_, r, err := DecodeWithout(data, m, "")
	return r, err
}

// DecodeWithout is Decode for an object with one top-level key, omit, that
// is not data (HighLevel's "succeded": true beside a changed resource): its
// value is returned (nil when absent or null) and neither decoded nor kept.
// An empty omit omits nothing.
func DecodeWithout(data []byte, m proto.Message, omit string) (any, Report, error) {
	// The stream decodes only into a new message, so that starting over
	// loses nothing of the caller's.
	if proto.Size(m) == 0 {
		s := newStreamer(data)
		said, err := s.top(m.ProtoReflect(), omit)
		if err == nil {
			return said, s.report, nil
		}
		// The stream wrote into m; the tree starts from nothing.
		proto.Reset(m)
	}
	return decodeTree(data, m, omit)
}

// decodeTree is the tree decoder's Decode: parse, then decode the object.
func decodeTree(data []byte, m proto.Message, omit string) (any, Report, error) {
	obj, err := parseObject(data)
	if err != nil {
		return nil, nil, err
	}
	said := take(obj, omit)
	return said, decodeRest(obj, m), nil
}

// parseObject parses data, which must be a JSON object.
func parseObject(data []byte) (map[string]any, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("jsonproto: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("jsonproto: want a JSON object, got %s", jsonType(v))
	}
	return obj, nil
}

// decodeRest decodes obj, what is left of a parsed answer, into m.
func decodeRest(obj map[string]any, m proto.Message) Report {
	var r Report
	decodeObject(obj, m.ProtoReflect(), &path{steps: make([]step, 0, 8)}, &r)
	return r
}

func (s *streamer) top(m protoreflect.Message, omit string) (any, error) {
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return nil, errRestart
	}
	said, err := s.object(m, keeper{collided: &s.collision}, 1, omit)
	if err != nil {
		return nil, err
	}
	s.space()
	if s.i < len(s.data) {
		return nil, errRestart
	}
	return said, nil
}

// block is the findings one key of an object gave: report[start:end].
type block struct {
	key        string
	start, end int
}

// object decodes the object at s.i (its depth counted as Parse counts it)
// into m. It returns omit's value when omit is not "".
func (s *streamer) object(m protoreflect.Message, parent keeper, depth int, omit string) (any, error) {
	if depth > maxDepth {
		return nil, errRestart
	}
	kt := keyTableOf(m.Descriptor())
	if len(kt.dotted) > 0 {
		return s.tree(m, parent, depth, omit)
	}
	k := parent
	if kt.unmapped != nil {
		k = keeper{m: m, fd: kt.unmapped, depth: s.path.depth(), collided: parent.collided}
	}
	strs := fieldSetterOf(m)
	// The fields some key has filled: a second key for one of them is a
	// choice the tree makes.
	var words [4]uint64
	filled := words[:]
	if n := (len(kt.decl) + 63) / 64; n > len(words) {
		filled = make([]uint64, n)
	}
	var (
		said     any
		saidSeen bool
		// Keys that fill no field, when nothing keeps them: the only way
		// to see one written twice.
		undeclared []string
		blocks     []block
	)
	s.i++ // {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil, nil
	}
	for {
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return nil, errRestart
		}
		raw, key, err := s.rawString()
		if err != nil {
			return nil, errRestart
		}
		cl, key, claimed := kt.claimRaw(&s.parser, raw, key)
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return nil, errRestart
		}
		s.i++
		s.space()
		start := len(s.report)
		pageTop := s.page != nil && depth == 1
		var records *pageState // the page's records are under this key
		if pageTop && key == s.page.spec.Items {
			records = s.page
		}
		switch {
		case pageTop && s.page.takes(key):
			if _, twice := s.page.taken[key]; twice {
				return nil, errRestart
			}
			v, err := s.value(depth)
			if err != nil {
				return nil, errRestart
			}
			s.page.taken = setIn(s.page.taken, key, v)
		case omit != "" && key == omit:
			if saidSeen {
				return nil, errRestart
			}
			if s.passOmitted {
				begin := s.i
				if !s.skip(depth) {
					return nil, errRestart
				}
				said = s.data[begin:s.i]
			} else if said, err = s.value(depth); err != nil {
				return nil, errRestart
			}
			saidSeen = true
		case !claimed:
			if records != nil {
				return nil, errRestart // records no field reads: the tree's
			}
			if k.fd == nil {
				if slices.Contains(undeclared, key) {
					return nil, errRestart
				}
				undeclared = append(undeclared, key)
			}
			val, err := s.value(depth)
			if err != nil {
				return nil, errRestart
			}
			s.path.push(key)
			keep(k, &s.path, val, Undeclared, &s.report)
			s.path.pop()
		default:
			if filled[cl.index/64]&(1<<(cl.index%64)) != 0 {
				return nil, errRestart
			}
			filled[cl.index/64] |= 1 << (cl.index % 64)
			if err := s.field(m, strs, cl.fd, key, k, depth, records); err != nil {
				return nil, err
			}
		}
		if s.collision {
			return nil, errRestart
		}
		if len(s.report) > start {
			blocks = append(blocks, block{key: key, start: start})
		}
		more, err := s.more('}')
		if err != nil {
			return nil, err
		}
		if !more {
			s.order(blocks)
			return said, nil
		}
	}
}

// more passes over what follows a member or an element: true after a
// comma (another follows), false after end (the object or array ends).
// Anything else is not JSON: the tree names the error.
func (s *streamer) more(end byte) (bool, error) {
	s.space()
	if s.i >= len(s.data) {
		return false, errRestart
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		s.space()
		return true, nil
	case end:
		s.i++
		return false, nil
	}
	return false, errRestart
}

// take takes key out of obj and returns its value (nil when absent); an
// empty key takes nothing.
func take(obj map[string]any, key string) any {
	if key == "" {
		return nil
	}
	v := obj[key]
	delete(obj, key)
	return v
}

// tree decodes the object at s.i as the tree decoder does, for a message
// whose dotted keys (lift) need the whole object at once.
func (s *streamer) tree(m protoreflect.Message, k keeper, depth int, omit string) (any, error) {
	v, err := s.value(depth - 1)
	if err != nil {
		return nil, errRestart
	}
	obj := v.(map[string]any)
	said := take(obj, omit)
	decodeInto(obj, m, &s.path, k, &s.report)
	return said, nil
}

// field decodes the value at s.i, the only one of its object for fd, under
// key; strs sets m's strings. records, when not nil, is the page whose
// records fd holds: they stream when they are a list of objects, else the
// tree decides.
func (s *streamer) field(m protoreflect.Message, strs fieldSetter, fd protoreflect.FieldDescriptor, key string, k keeper, depth int, records *pageState) error {
	if s.i < len(s.data) && s.data[s.i] == 'n' {
		// null: the field stays unset, as in the tree.
		if err := s.literal("null"); err != nil {
			return errRestart
		}
		return nil
	}
	if oneofTaken(m, fd) {
		return errRestart
	}
	s.path.push(key)
	defer s.path.pop()
	if records != nil {
		if !fd.IsList() || !streamed(fd) || s.i >= len(s.data) || s.data[s.i] != '[' {
			return errRestart
		}
		return s.list(m, strs, fd, k, depth+1, records)
	}
	if s.i < len(s.data) && !fd.IsList() && !fd.IsMap() {
		// The commonest values, read without a tree: a string, a boolean.
		switch c := s.data[s.i]; {
		case fd.Kind() == protoreflect.StringKind && c == '"':
			v, err := s.string()
			if err != nil {
				return errRestart
			}
			strs.set(m, fd, v)
			return nil
		case fd.Kind() == protoreflect.BoolKind && (c == 't' || c == 'f'):
			word := "false"
			if c == 't' {
				word = "true"
			}
			if err := s.literal(word); err != nil {
				return errRestart
			}
			m.Set(fd, protoreflect.ValueOfBool(c == 't'))
			return nil
		}
	}
	if s.i < len(s.data) {
		if done, err := s.known(m, strs, fd, k, depth); done || err != nil {
			return err
		}
	}
	if streamed(fd) && s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '{' && !fd.IsList():
			v := m.NewField(fd)
			if _, err := s.object(v.Message(), k, depth+1, ""); err != nil {
				return err
			}
			m.Set(fd, v)
			return nil
		case c == '[' && fd.IsList():
			return s.list(m, strs, fd, k, depth+1, nil)
		}
	}
	val, err := s.value(depth)
	if err != nil {
		return errRestart
	}
	coerced, ok := setField(m, fd, val, &s.path, k, &s.report)
	switch {
	case !ok:
		keep(k, &s.path, val, Mismatch, &s.report)
	case coerced:
		s.report = append(s.report, Finding{Path: s.path.String(), Kind: Coerced, Kept: true})
	}
	return nil
}

// list decodes the array at s.i into fd, a list of messages. An element
// that is not an object makes the whole list a mismatch, kept as it came,
// after what the elements before it reported: as in the tree. With page,
// the list is a page's records: each must be an object (else the tree
// decides), and page counts them and keeps the last one's taken key.
func (s *streamer) list(m protoreflect.Message, strs fieldSetter, fd protoreflect.FieldDescriptor, k keeper, depth int, page *pageState) error {
	if depth > maxDepth {
		return errRestart
	}
	begin := s.i
	list := newMessageList(m, strs, fd)
	s.i++ // [
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil
	}
	omit := ""
	if page != nil && len(page.spec.ItemTake) > 0 {
		omit = page.spec.ItemTake[0]
	}
	for n := 0; ; n++ {
		if page != nil && (s.i >= len(s.data) || s.data[s.i] != '{') {
			return errRestart
		}
		if s.i >= len(s.data) || s.data[s.i] != '{' {
			s.i = begin
			val, err := s.value(depth - 1)
			if err != nil {
				return errRestart
			}
			keep(k, &s.path, val, Mismatch, &s.report)
			return nil
		}
		s.path.pushIndex(n)
		said, err := s.object(list.add(), k, depth+1, omit)
		s.path.pop()
		if err != nil {
			return err
		}
		if page != nil {
			page.items++
			page.last, _ = said.([]byte)
		}
		more, err := s.more(']')
		if err != nil {
			return err
		}
		if !more {
			list.set()
			return nil
		}
	}
}

// streamed reports whether fd's values are messages the stream decodes
// itself: any but the well-known ones the tree decoder converts, and not a
// map.
func streamed(fd protoreflect.FieldDescriptor) bool {
	if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
		return false
	}
	switch fd.Message().FullName() {
	case "google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue", "google.protobuf.Timestamp":
		return false
	}
	return true
}

// order puts an object's findings in the tree's order: by key, each key's
// findings together, in the order they were met. blocks are in the order
// the keys came.
func (s *streamer) order(blocks []block) {
	byKey := func(a, b block) int { return strings.Compare(a.key, b.key) }
	if slices.IsSortedFunc(blocks, byKey) {
		return
	}
	from := blocks[0].start
	for i := range blocks {
		blocks[i].end = len(s.report)
		if i+1 < len(blocks) {
			blocks[i].end = blocks[i+1].start
		}
	}
	slices.SortFunc(blocks, byKey) // keys are unique: a key twice restarts
	sorted := make([]Finding, 0, len(s.report)-from)
	for _, b := range blocks {
		sorted = append(sorted, s.report[b.start:b.end]...)
	}
	copy(s.report[from:], sorted)
}

// claimRaw is claim for a key p's rawString has just read: raw, or else
// key. It returns the key as a string, made only when no field claims it
// exactly.
func (kt *keyTable) claimRaw(p *parser, raw []byte, key string) (keyClaim, string, bool) {
	if raw != nil {
		if cl, ok := kt.byKey[string(raw)]; ok {
			return cl, cl.key, true
		}
		key = p.text(raw)
	}
	cl, ok := kt.claim(key)
	return cl, key, ok
}
