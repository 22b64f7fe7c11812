package jsonproto

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// An answer that is a page of resources has an envelope the caller reads
// itself (the list, a total, a cursor). Members and DecodeList read such an
// answer without building a tree of it: Members finds the envelope's
// members, and DecodeList streams the list's objects into their messages;
// DecodeListMember does both in one pass.

// Members returns the members of the JSON object in data, each as the
// bytes of its value, without parsing them; a key given twice keeps its
// last value, as in Parse. It fails as Parse fails when data is not JSON,
// and when it is not an object.
func Members(data []byte) (map[string][]byte, error) {
	p := parser{data: data}
	p.space()
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		v, err := Parse(data)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("want a JSON object, got %s", jsonType(v))
	}
	out := map[string][]byte{}
	if !p.walkObject(func(key string) bool { return p.keepValue(out, key) }) {
		return nil, syntaxOf(data)
	}
	return out, nil
}

// walkObject reads the top-level JSON object at p's position, which is
// its '{', to the end of p's data: for each member it reads the key and
// hands it to member, which reads the value from p and returns false
// to stop. False when member stopped, or the data is not one object.
func (p *parser) walkObject(member func(key string) bool) bool {
	p.i++ // {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
	} else {
		for {
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return false
			}
			key, err := p.string()
			if err != nil {
				return false
			}
			p.space()
			if p.i >= len(p.data) || p.data[p.i] != ':' {
				return false
			}
			p.i++
			p.space()
			if !member(key) {
				return false
			}
			p.space()
			if p.i >= len(p.data) {
				return false
			}
			if p.data[p.i] == '}' {
				p.i++
				break
			}
			if p.data[p.i] != ',' {
				return false
			}
			p.i++
			p.space()
		}
	}
	p.space()
	return p.i >= len(p.data)
}

// keepValue passes over the value at p's position and keeps its bytes in
// out under key, a later key given twice replacing the earlier; false when
// the value is not JSON.
func (p *parser) keepValue(out map[string][]byte, key string) bool {
	start := p.i
	if !p.skip(1) {
		return false
	}
	out[key] = p.data[start:p.i:p.i]
	return true
}

// syntaxOf is Parse's error for data, which Members found is not JSON.
func syntaxOf(data []byte) error {
	if _, err := Parse(data); err != nil {
		return err
	}
	return errors.New("jsonproto: Members and Parse disagree") // never: both follow one grammar
}

// skip passes over the value at p.i, checking it as Parse's value(depth)
// would, without building it; false when it is not JSON (Parse names the
// error).
func (p *parser) skip(depth int) bool {
	if p.i >= len(p.data) {
		return false
	}
	c := p.data[p.i]
	switch {
	case c == '"':
		return p.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return p.scanNumber() == nil
	case c != '{' && c != '[':
		_, err := p.value(depth) // a literal: nothing to allocate
		return err == nil
	}
	if depth+1 > maxDepth {
		return false
	}
	closer := byte('}')
	if c == '[' {
		closer = ']'
	}
	p.i++
	p.space()
	if p.i < len(p.data) && p.data[p.i] == closer {
		p.i++
		return true
	}
	for {
		if closer == '}' {
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return false
			}
			if !p.skipString() {
				return false
			}
			p.space()
			if p.i >= len(p.data) || p.data[p.i] != ':' {
				return false
			}
			p.i++
			p.space()
		}
		if !p.skip(depth + 1) {
			return false
		}
		p.space()
		if p.i >= len(p.data) {
			return false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case closer:
			p.i++
			return true
		default:
			return false
		}
	}
}

// skipString passes over the string at p.i as Parse's string would read
// it, without building it.
func (p *parser) skipString() bool {
	p.i++ // "
	for p.i < len(p.data) {
		if stringByte[p.data[p.i]] {
			p.i++
			continue
		}
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			p.i++
			if p.i >= len(p.data) {
				return false
			}
			switch p.data[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := p.hex4(p.i + 1); !ok {
					return false
				}
				p.i += 4
			default:
				return false
			}
		}
		p.i++
	}
	return false
}

// DecodeList decodes data, a JSON array of objects or null (no items), into
// one new message each, made by newItem, as Decode decodes an object. Each
// object's key omit (when not "") is taken out; its value in the last item
// is returned as last (nil when there are no items, or the last is null or
// lacks the key: a page's cursor is its last item's). A null item is an
// empty message. An item that is not an object is an *ItemError.
func DecodeList(data []byte, newItem func() proto.Message, omit string) (items []proto.Message, last any, r Report, err error) {
	s := newStreamer(data)
	s.passOmitted = true
	items, last, err = s.items(newItem, omit)
	if err == nil {
		return items, last, s.report, nil
	}
	return decodeListTree(data, newItem, omit)
}

// ListPage is an answer read by DecodeListMember.
type ListPage struct {
	// Members are the answer's members but the list, as Members returns
	// them.
	Members map[string][]byte
	// Found says whether the answer has the list's key; Items, Last and
	// Report are DecodeList's of its value.
	Found  bool
	Items  []proto.Message
	Last   any
	Report Report
}

// DecodeListMember is Members of data, then DecodeList of its member list,
// in one pass: a page's envelope is read while its records are decoded,
// where Members passed over every record once to find the envelope's end
// before DecodeList read them (a tenth of a search page's decode). It
// gives what the two give, and fails as they fail, DecodeList's errors
// named by the list's key ("contacts[2]: want an object, got a string",
// "contacts: …"); what the pass does not decide alone (the list's key
// twice, a list the stream leaves to the tree, anything that is not JSON)
// the two decide.
func DecodeListMember(data []byte, list string, newItem func() proto.Message, omit string) (ListPage, error) {
	if pg, ok := streamListMember(data, list, newItem, omit); ok {
		return pg, nil
	}
	members, err := Members(data)
	if err != nil {
		return ListPage{}, err
	}
	pg := ListPage{Members: members}
	raw, ok := members[list]
	if !ok {
		return pg, nil
	}
	delete(members, list)
	pg.Found = true
	pg.Items, pg.Last, pg.Report, err = DecodeList(raw, newItem, omit)
	if err != nil {
		return ListPage{}, listError(list, err)
	}
	return pg, nil
}

// listError names DecodeList's error by the list's key.
func listError(list string, err error) error {
	if item := (*ItemError)(nil); errors.As(err, &item) {
		return fmt.Errorf("%s%w", list, err)
	}
	return fmt.Errorf("%s: %w", list, err)
}

// streamListMember is DecodeListMember's one pass; false leaves the answer
// to the two passes. The list is decoded as DecodeList decodes it alone,
// at the same depth and under the same paths, so the report is the same.
func streamListMember(data []byte, list string, newItem func() proto.Message, omit string) (ListPage, bool) {
	s := newStreamer(data)
	s.passOmitted = true
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return ListPage{}, false
	}
	pg := ListPage{Members: map[string][]byte{}}
	ok := s.walkObject(func(key string) bool {
		switch {
		case key != list:
			return s.keepValue(pg.Members, key)
		case pg.Found:
			return false // given twice: Members keeps the last
		default:
			pg.Found = true
			var err error
			if pg.Items, pg.Last, err = s.itemsValue(newItem, omit); err != nil {
				return false
			}
		}
		return true
	})
	if !ok {
		return ListPage{}, false
	}
	pg.Report = s.report
	return pg, true
}

// decodeListTree is DecodeList decided by the tree, from nothing.
func decodeListTree(data []byte, newItem func() proto.Message, omit string) (items []proto.Message, last any, r Report, err error) {
	v, err := Parse(data)
	if err != nil {
		return nil, nil, nil, err
	}
	if v == nil {
		return nil, nil, nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, nil, nil, fmt.Errorf("want a list, got %s", jsonType(v))
	}
	items = make([]proto.Message, len(arr))
	for i, e := range arr {
		obj, ok := e.(map[string]any)
		if !ok && e != nil {
			return nil, nil, nil, &ItemError{Index: i, Got: jsonType(e)}
		}
		last = take(obj, omit)
		items[i] = newItem()
		r = append(r, DecodeMap(obj, items[i])...)
	}
	return items, last, r, nil
}

// ItemError is DecodeList's error for an item that is not an object.
type ItemError struct {
	Index int
	Got   string // "a string", "an array"
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("[%d]: want an object, got %s", e.Index, e.Got)
}

// items is DecodeList's stream. Each item's omitted value is only passed
// over; the last item's is parsed at the end.
func (s *streamer) items(newItem func() proto.Message, omit string) ([]proto.Message, any, error) {
	items, last, err := s.itemsValue(newItem, omit)
	if err != nil {
		return nil, nil, err
	}
	s.space()
	if s.i < len(s.data) {
		return nil, nil, errRestart
	}
	return items, last, nil
}

// itemsValue is items for the value at the stream's position, which it
// leaves just after it: what follows is its caller's to read.
func (s *streamer) itemsValue(newItem func() proto.Message, omit string) ([]proto.Message, any, error) {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == 'n' {
		if err := s.literal("null"); err != nil {
			return nil, nil, errRestart
		}
		return nil, nil, nil
	}
	if s.i >= len(s.data) || s.data[s.i] != '[' {
		return nil, nil, errRestart
	}
	items := []proto.Message{}
	// The last item's omitted value, as it came.
	var last []byte
	s.i++ // [
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
	} else {
		for {
			m := newItem()
			last = nil
			switch {
			case s.i < len(s.data) && s.data[s.i] == '{':
				raw, err := s.object(m.ProtoReflect(), keeper{collided: &s.collision}, 2, omit)
				if err != nil {
					return nil, nil, err
				}
				last, _ = raw.([]byte)
			case s.i < len(s.data) && s.data[s.i] == 'n':
				if err := s.literal("null"); err != nil {
					return nil, nil, errRestart
				}
			default:
				return nil, nil, errRestart // not an object: the tree names it
			}
			items = append(items, m)
			more, err := s.more(']')
			if err != nil {
				return nil, nil, err
			}
			if !more {
				break
			}
		}
	}
	if last == nil {
		return items, nil, nil
	}
	v, err := parsePassed(last, 2) // an item is an object at depth 2
	if err != nil {
		return nil, nil, err
	}
	return items, v, nil
}

// parsePassed parses raw, a value object passed over (passOmitted) in an
// object at depth, as Parse reads it there. It fails (errRestart) only if
// raw is not what skip checked: never.
func parsePassed(raw []byte, depth int) (any, error) {
	p := parser{data: raw}
	v, err := p.value(depth)
	if err != nil {
		return nil, errRestart
	}
	return v, nil
}
