package jsonproto

import (
	"slices"

	"google.golang.org/protobuf/proto"
)

// A page of HighLevel's answers carries paging state beside its records:
// a total, a cursor, an envelope such as meta, and in each record its own
// cursor key. DecodePage takes those out and decodes the rest, streaming
// the records.

// PageSpec names what DecodePage takes out of a page answer.
type PageSpec struct {
	// Take are top-level keys whose values are returned, neither decoded
	// nor kept.
	Take []string
	// Items is the key of the page's list of records.
	Items string
	// ItemTake are keys taken out of every record of Items (an object);
	// the last record's values are returned.
	ItemTake []string
}

// Page is what DecodePage took out of an answer.
type Page struct {
	Taken map[string]any // Take's values, of the keys present
	Items int            // the elements under Items when it is an array, else 0
	Last  map[string]any // ItemTake's values in the last element, when an object has them
	// Streamed is true when the stream decoded the page, false when it
	// left it to the tree (a shape it does not stream: records that are
	// not a list of objects, a key twice, and the stream's other cases).
	Streamed bool
}

// DecodePage fills m from the JSON object in data, as Decode, without
// spec's keys, and returns their values. It gives what TakePage on the
// parsed object, then DecodeMap, give.
func DecodePage(data []byte, m proto.Message, spec PageSpec) (Page, Report, error) {
	// The stream takes one key of each record, and leaves a list it does
	// not stream itself to the tree.
	if proto.Size(m) == 0 && len(spec.ItemTake) <= 1 && !slices.Contains(spec.Take, spec.Items) {
		s := newStreamer(data)
		s.passOmitted, s.page = true, &pageState{spec: spec}
		if _, err := s.top(m.ProtoReflect(), ""); err == nil {
			pg, err := s.page.result()
			if err == nil {
				return pg, s.report, nil
			}
		}
		proto.Reset(m)
	}
	return decodePageTree(data, m, spec)
}

// decodePageTree is DecodePage decided by the tree.
func decodePageTree(data []byte, m proto.Message, spec PageSpec) (Page, Report, error) {
	obj, err := parseObject(data)
	if err != nil {
		return Page{}, nil, err
	}
	pg := TakePage(obj, spec)
	return pg, decodeRest(obj, m), nil
}

// TakePage takes spec's keys out of obj, a parsed answer (Parse's form),
// and returns what it took.
func TakePage(obj map[string]any, spec PageSpec) Page {
	var pg Page
	if items, ok := obj[spec.Items].([]any); ok {
		pg.Items = len(items)
		for i, it := range items {
			rec, ok := it.(map[string]any)
			if !ok {
				continue
			}
			for _, k := range spec.ItemTake {
				if v, ok := rec[k]; ok && i == len(items)-1 {
					pg.Last = setIn(pg.Last, k, v)
				}
				delete(rec, k)
			}
		}
	}
	for _, k := range spec.Take {
		if v, ok := obj[k]; ok {
			pg.Taken = setIn(pg.Taken, k, v)
			delete(obj, k)
		}
	}
	return pg
}

func setIn(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[k] = v
	return m
}

// pageState is a stream DecodePage's: what it took so far.
type pageState struct {
	spec  PageSpec
	taken map[string]any
	// The list under spec.Items, when the stream read it: its elements,
	// and the last one's taken value as it came (nil: none).
	items int
	last  []byte
}

// takes reports whether key, of the top-level object, is one of Take.
func (ps *pageState) takes(key string) bool { return slices.Contains(ps.spec.Take, key) }

// result is the Page the stream took; an error when the last record's
// value, passed over, does not parse (never: the pass checked it).
func (ps *pageState) result() (Page, error) {
	pg := Page{Taken: ps.taken, Items: ps.items, Streamed: true}
	if ps.last != nil {
		v, err := parsePassed(ps.last, 3) // a record is an object at depth 3
		if err != nil {
			return Page{}, err
		}
		pg.Last = map[string]any{ps.spec.ItemTake[0]: v}
	}
	return pg, nil
}
