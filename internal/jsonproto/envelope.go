package jsonproto

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// An answer that is a page of resources has an envelope the caller reads
// itself (the list, a total, a cursor). Members and DecodeList read such an
// answer without building a tree of it: Members finds the envelope's
// members, and DecodeList streams the list's objects into their messages.

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
	p.i++ // {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
	} else {
		for {
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return nil, syntaxOf(data)
			}
			key, err := p.string()
			if err != nil {
				return nil, syntaxOf(data)
			}
			p.space()
			if p.i >= len(p.data) || p.data[p.i] != ':' {
				return nil, syntaxOf(data)
			}
			p.i++
			p.space()
			start := p.i
			if !p.skip(1) {
				return nil, syntaxOf(data)
			}
			out[key] = data[start:p.i:p.i]
			p.space()
			if p.i >= len(p.data) {
				return nil, syntaxOf(data)
			}
			if p.data[p.i] == '}' {
				p.i++
				break
			}
			if p.data[p.i] != ',' {
				return nil, syntaxOf(data)
			}
			p.i++
			p.space()
		}
	}
	p.space()
	if p.i < len(p.data) {
		return nil, syntaxOf(data)
	}
	return out, nil
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
// object's key omit (when not "") is taken out, and its value returned in
// said, item by item. A null item is an empty message. An item that is not
// an object is an *ItemError.
func DecodeList(data []byte, newItem func() proto.Message, omit string) (items []proto.Message, said []any, r Report, err error) {
	s := streamer{parser: parser{data: data, whole: string(data)}, path: path{steps: make([]step, 0, 8)}}
	items, said, err = s.items(newItem, omit)
	if err == nil {
		return items, said, s.report, nil
	}
	return decodeListTree(data, newItem, omit)
}

// decodeListTree is DecodeList decided by the tree, from nothing.
func decodeListTree(data []byte, newItem func() proto.Message, omit string) (items []proto.Message, said []any, r Report, err error) {
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
	items, said = make([]proto.Message, len(arr)), make([]any, len(arr))
	for i, e := range arr {
		obj, ok := e.(map[string]any)
		if !ok && e != nil {
			return nil, nil, nil, &ItemError{Index: i, Got: jsonType(e)}
		}
		said[i] = take(obj, omit)
		items[i] = newItem()
		r = append(r, DecodeMap(obj, items[i])...)
	}
	return items, said, r, nil
}

// ItemError is DecodeList's error for an item that is not an object.
type ItemError struct {
	Index int
	Got   string // "a string", "an array"
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("[%d]: want an object, got %s", e.Index, e.Got)
}

// items is DecodeList's stream.
func (s *streamer) items(newItem func() proto.Message, omit string) ([]proto.Message, []any, error) {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == 'n' {
		if err := s.literal("null"); err != nil {
			return nil, nil, errRestart
		}
		s.space()
		if s.i < len(s.data) {
			return nil, nil, errRestart
		}
		return nil, nil, nil
	}
	if s.i >= len(s.data) || s.data[s.i] != '[' {
		return nil, nil, errRestart
	}
	items, said := []proto.Message{}, []any{}
	s.i++ // [
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
	} else {
		for {
			m := newItem()
			var v any
			switch {
			case s.i < len(s.data) && s.data[s.i] == '{':
				var err error
				if v, err = s.object(m.ProtoReflect(), keeper{collided: &s.collision}, 2, omit); err != nil {
					return nil, nil, err
				}
			case s.i < len(s.data) && s.data[s.i] == 'n':
				if err := s.literal("null"); err != nil {
					return nil, nil, errRestart
				}
			default:
				return nil, nil, errRestart // not an object: the tree names it
			}
			items, said = append(items, m), append(said, v)
			s.space()
			if s.i >= len(s.data) {
				return nil, nil, errRestart
			}
			if s.data[s.i] == ']' {
				s.i++
				break
			}
			if s.data[s.i] != ',' {
				return nil, nil, errRestart
			}
			s.i++
			s.space()
		}
	}
	s.space()
	if s.i < len(s.data) {
		return nil, nil, errRestart
	}
	return items, said, nil
}
