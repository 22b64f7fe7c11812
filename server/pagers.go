package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hlgate/hlgate/gen/optable"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// Pagers: the upstream paging styles behind one opaque page_token. A paged
// RPC's request has page_size and page_token, its response the list and
// next_page_token (and total_size where HighLevel gives a total); the row's
// Paging says how the upstream pages, its Pager which fields ask for a page
// and which keys of the answer say what comes next:
//
//   - client: the whole list in one answer, cut into pages by id here;
//   - offset: the offset of the next record;
//   - page: the page number, 1 first, up to the records HighLevel reaches;
//   - startAfter: a cursor read from the answer (opportunities' meta);
//   - searchAfter: a cursor read from the page's last record, which is
//     paging state and is stripped from the record, with page numbers as the
//     fallback for a page that carries none (contacts search).
//
// Every upstream style keeps the same rules: a page token is sealed with
// the request's filters and method (pageTokens), opened before anything is
// sent, and issued only when there is more: never after an empty page, not
// once HighLevel's total is reached, and, without a total, not after a
// short page.

// clientMaxPageSize bounds the pages hlgate cuts from a whole-list answer.
const clientMaxPageSize = 100

// pagedRPC is what a generic paged RPC binds at start.
type pagedRPC struct {
	size, token protoreflect.FieldDescriptor // request: page_size, page_token
	next        protoreflect.FieldDescriptor // response: next_page_token
	items       protoreflect.FieldDescriptor // response: the one repeated message field
	itemID      protoreflect.FieldDescriptor // client paging: the items' id, their order
	total       protoreflect.FieldDescriptor // response: total_size, when the pager reads a total
	style       optable.Paging
	pager       *optable.Pager // nil for client paging
	// spec is what take removes from an answer (see pageSpec).
	spec jsonproto.PageSpec
}

// bindPaging binds the paging fields of a paged RPC; nil for an RPC whose
// operation does not page.
func bindPaging(m protoreflect.MethodDescriptor, row *optable.Op, used map[protoreflect.Name]bool) (*pagedRPC, error) {
	if row.Paging == optable.PagingNone {
		return nil, nil
	}
	if row.Paging != optable.PagingClient && row.Pager == nil {
		return nil, fmt.Errorf("paging %q declares no pager in api/overlay.yaml (x-hlgate.paging {style, size, …})", row.Paging)
	}
	req, res := m.Input().Fields(), m.Output().Fields()
	p := &pagedRPC{size: req.ByName("page_size"), token: req.ByName("page_token"), next: res.ByName("next_page_token"), style: row.Paging, pager: row.Pager}
	if p.size == nil || p.size.Kind() != protoreflect.Int32Kind || p.token == nil || p.token.Kind() != protoreflect.StringKind {
		return nil, fmt.Errorf("a paged RPC's request needs int32 page_size and string page_token")
	}
	if p.next == nil || p.next.Kind() != protoreflect.StringKind {
		return nil, fmt.Errorf("a paged RPC's response needs string next_page_token")
	}
	for i := 0; i < res.Len(); i++ {
		if fd := res.Get(i); fd.IsList() && fd.Kind() == protoreflect.MessageKind {
			if p.items != nil {
				return nil, fmt.Errorf("a paged RPC's response needs exactly one list, not %s and %s", p.items.Name(), fd.Name())
			}
			p.items = fd
		}
	}
	if p.items == nil {
		return nil, fmt.Errorf("a paged RPC's response needs a list")
	}
	used[p.size.Name()], used[p.token.Name()] = true, true
	if p.pager == nil {
		if p.itemID = p.items.Message().Fields().ByName("id"); p.itemID == nil || p.itemID.Kind() != protoreflect.StringKind {
			return nil, fmt.Errorf("client paging orders %s by id, which it lacks", p.items.Message().FullName())
		}
		return p, nil
	}
	// The pager and the proto name the same key: a list decoded from
	// another key would page by records the caller never sees.
	if got := upstreamName(p.items); got != p.pager.Items {
		return nil, fmt.Errorf("the pager's records are the answer's %q, but %s reads %q (set its (hlgate.v1.wire).name)", p.pager.Items, p.items.Name(), got)
	}
	p.total = res.ByName("total_size")
	switch {
	case p.total != nil && (p.total.Kind() != protoreflect.Int32Kind || p.pager.Total == ""):
		return nil, fmt.Errorf("total_size needs to be int32 and the pager to name the answer's total")
	case p.total == nil && p.pager.Total != "":
		return nil, fmt.Errorf("the answer's total %q reaches no total_size field", p.pager.Total)
	}
	p.spec = pageSpec(p.pager, row.Confirm)
	return p, nil
}

// owns reports whether a parameter or body property is the pager's: the
// pager fills it, never a request field.
func (p *pagedRPC) owns(in, name string) bool {
	if p == nil || p.pager == nil {
		return false
	}
	g := p.pager
	fields := []*optable.Field{&g.Size, g.Page, g.Offset}
	for i := range g.Cursor {
		fields = append(fields, &g.Cursor[i].Field)
	}
	return slices.ContainsFunc(fields, func(f *optable.Field) bool { return f != nil && f.In == in && f.Name == name })
}

// pageOwner reports whether row's pager fills a parameter or body
// property, before the RPC's paging is bound.
func pageOwner(row *optable.Op, in, name string) bool {
	return (&pagedRPC{pager: row.Pager}).owns(in, name)
}

// page is the position a paged call starts from: its size and the cursor
// its page token sealed. It is read before anything is sent, so a bad size
// or token never reaches HighLevel.
type page struct {
	size int
	cur  keyCursor      // client paging
	up   upstreamCursor // the upstream styles
}

// upstreamCursor is the position sealed in the page token of an upstream
// style: the records returned so far, and what the next request sends.
type upstreamCursor struct {
	Seen int `json:"n"`
	// Page is the page number to ask for; 0 on the first page.
	Page int `json:"p,omitempty"`
	// Size is the page size the page numbers count in: a page number
	// means nothing in another size, so pages after the first keep it.
	Size int `json:"s,omitempty"`
	// After holds the cursor's values, in the pager's order, as HighLevel
	// wrote them (its epoch milliseconds keep every digit).
	After []json.RawMessage `json:"c,omitempty"`
}

// openPage reads a paged request's size and token.
func (s *Server) openPage(method string, p *pagedRPC, in proto.Message) (page, error) {
	req := in.ProtoReflect()
	maxSize := clientMaxPageSize
	if p.pager != nil {
		maxSize = p.pager.MaxSize
	}
	size, err := pageSize(int32(req.Get(p.size).Int()), defaultPageSize, maxSize)
	if err != nil {
		return page{}, err
	}
	pg := page{size: size}
	if tok := req.Get(p.token).String(); tok != "" {
		cur := any(&pg.cur)
		if p.pager != nil {
			cur = &pg.up
		}
		if err := s.pages.open(method, tok, in, cur); err != nil {
			return page{}, err
		}
	}
	if pg.up.Page > 0 && pg.up.Size > 0 {
		pg.size = pg.up.Size
	}
	return pg, nil
}

// pagerValue is one request field the pager fills.
type pagerValue struct {
	optable.Field
	value any // a JSON value: an int or HighLevel's own json.RawMessage
}

// request is what asks HighLevel for the page pg: its size, and its
// offset, page number or cursor.
func (p *pagedRPC) request(pg page) []pagerValue {
	if p == nil || p.pager == nil {
		return nil
	}
	g := p.pager
	out := []pagerValue{{g.Size, pg.size}}
	switch {
	case g.Offset != nil:
		out = append(out, pagerValue{*g.Offset, pg.up.Seen})
	case len(pg.up.After) == len(g.Cursor) && len(g.Cursor) > 0:
		for i, c := range g.Cursor {
			out = append(out, pagerValue{c.Field, pg.up.After[i]})
		}
	case g.Page != nil:
		out = append(out, pagerValue{*g.Page, max(pg.up.Page, 1)})
	}
	return out
}

// queryText is a pager value as a query parameter spells it: a JSON string
// unquoted, anything else as HighLevel wrote it.
func queryText(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			return s
		}
		return string(x)
	}
	return fmt.Sprint(v)
}

// queryTexts is a pager value as query parameters spell it: an array (a
// cursor of several sort values) as one parameter per element, which is
// OpenAPI's default for a query array (form, exploded), anything else as
// one parameter (queryText).
func queryTexts(v any) []string {
	if raw, ok := v.(json.RawMessage); ok {
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) == nil && len(elems) > 0 {
			out := make([]string, len(elems))
			for i, e := range elems {
				out[i] = queryText(e)
			}
			return out
		}
	}
	return []string{queryText(v)}
}

// answerPage is what one upstream answer says about paging.
type answerPage struct {
	n     int               // records on the page
	total int               // HighLevel's total; -1 when it gave none
	after []json.RawMessage // the next cursor; nil when the answer has none
}

// take reads the page's paging state from the answer and removes it, so
// that only records and data reach the response: the total and the cursor
// (a dotted key's whole top-level object, meta, is the upstream's paging
// envelope that the page token replaces), and each record's own cursor
// key, which is paging state, not data.
func (p *pagedRPC) take(obj map[string]any) (answerPage, error) {
	return p.fromPage(jsonproto.TakePage(obj, p.spec))
}

// pageSpec is what take removes, as jsonproto takes it out: the top-level
// keys of the total and of each cursor read from the answer, the row's
// Confirm key (confirm, when not ""), and each record's cursor keys.
func pageSpec(g *optable.Pager, confirm string) jsonproto.PageSpec {
	spec := jsonproto.PageSpec{Items: g.Items}
	for _, key := range append([]string{g.Total, confirm}, fromKeys(g)...) {
		if key != "" {
			spec.Take = append(spec.Take, strings.SplitN(key, ".", 2)[0])
		}
	}
	for _, c := range g.Cursor {
		if c.FromLast != "" {
			spec.ItemTake = append(spec.ItemTake, c.FromLast)
		}
	}
	return spec
}

// fromPage is the paging state in what take removed.
func (p *pagedRPC) fromPage(pg jsonproto.Page) (answerPage, error) {
	g := p.pager
	ap := answerPage{total: -1, n: pg.Items}
	if g.Total != "" {
		if v, ok := lookup(pg.Taken, g.Total); ok {
			n, isNum := v.(json.Number)
			t, err := strconv.Atoi(n.String())
			if !isNum || err != nil || t < 0 {
				return ap, fmt.Errorf("HighLevel's total %s is %v, not a count", g.Total, v)
			}
			ap.total = t
		}
	}
	var after []json.RawMessage
	for _, c := range g.Cursor {
		var v any
		var ok bool
		if c.FromLast != "" {
			v, ok = pg.Last[c.FromLast]
		} else {
			v, ok = lookup(pg.Taken, c.From)
		}
		if !ok || emptyJSON(v) {
			after = nil
			break
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return ap, err
		}
		after = append(after, raw)
	}
	if len(after) == len(g.Cursor) {
		ap.after = after
	}
	return ap, nil
}

func fromKeys(g *optable.Pager) []string {
	var out []string
	for _, c := range g.Cursor {
		out = append(out, c.From)
	}
	return out
}

// lookup finds a dotted key in nested objects.
func lookup(obj map[string]any, path string) (any, bool) {
	var v any = obj
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// emptyJSON reports whether a cursor value says nothing: null, "" or [].
func emptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	}
	return false
}

// nextCursor is the position after a page read from pg whose answer said
// ap, and whether there is a next page at all.
func (p *pagedRPC) nextCursor(pg page, ap answerPage) (upstreamCursor, bool) {
	g := p.pager
	seen := pg.up.Seen + ap.n
	if ap.n == 0 {
		return upstreamCursor{}, false // an empty page ends every walk, so deletions cannot loop a caller
	}
	if ap.total >= 0 && seen >= ap.total || ap.total < 0 && ap.n < pg.size {
		return upstreamCursor{}, false
	}
	next := upstreamCursor{Seen: seen}
	switch p.style {
	case optable.PagingOffset:
		return next, true
	case optable.PagingStartAfter:
		// HighLevel may repeat the last record's cursor on the last page, so
		// a cursor alone does not mean more: the total (or a full page, above)
		// decides, and without a cursor there is no way on.
		next.After = ap.after
		return next, ap.after != nil
	case optable.PagingSearchAfter:
		if ap.n < pg.size {
			return upstreamCursor{}, false
		}
		if ap.after != nil {
			next.After = ap.after
			return next, true
		}
		// A page without a cursor continues by page number, but only while
		// every page so far went by page number: a page number after cursor
		// pages would count from a position HighLevel never saw.
		if g.Page == nil || len(pg.up.After) > 0 || pg.up.Seen > 0 && pg.up.Page == 0 {
			return upstreamCursor{}, false
		}
	case optable.PagingPage:
		if ap.n < pg.size {
			return upstreamCursor{}, false
		}
	default:
		return upstreamCursor{}, false
	}
	if g.MaxRecords > 0 && seen >= g.MaxRecords {
		return upstreamCursor{}, false // page numbers reach no further (facts file §3)
	}
	next.Page, next.Size = max(pg.up.Page, 1)+1, pg.size
	return next, true
}

// upstreamPage finishes a page of an upstream style: total_size from the
// answer, and next_page_token when there is more.
func (s *Server) upstreamPage(method string, p *pagedRPC, pg page, ap answerPage, in, out proto.Message) error {
	res := out.ProtoReflect()
	if p.total != nil && ap.total >= 0 {
		res.Set(p.total, protoreflect.ValueOfInt32(int32(min(ap.total, 1<<31-1))))
	}
	next, ok := p.nextCursor(pg, ap)
	if !ok {
		return nil
	}
	tok, err := s.pages.seal(method, in, next)
	if err != nil {
		return err
	}
	res.Set(p.next, protoreflect.ValueOfString(tok))
	return nil
}

// clientPage cuts one page from a whole-list answer. Pages walk the list in
// id order, the one order that a record added or renamed during the walk
// cannot disturb; a page starts after the last id returned, even if that
// record has since been deleted.
func (s *Server) clientPage(method string, p *pagedRPC, pg page, in, out proto.Message) error {
	res := out.ProtoReflect()
	list := res.Mutable(p.items).List()
	all := make([]protoreflect.Value, list.Len())
	for i := range all {
		all[i] = list.Get(i)
	}
	id := func(v protoreflect.Value) string { return v.Message().Get(p.itemID).String() }
	slices.SortStableFunc(all, func(a, b protoreflect.Value) int { return strings.Compare(id(a), id(b)) })
	start := 0
	if pg.cur.ID != "" {
		if start = slices.IndexFunc(all, func(v protoreflect.Value) bool { return id(v) > pg.cur.ID }); start < 0 {
			start = len(all)
		}
	}
	end := min(start+pg.size, len(all))
	list.Truncate(0)
	for _, v := range all[start:end] {
		list.Append(v)
	}
	if end < len(all) && end > start {
		tok, err := s.pages.seal(method, in, keyCursor{ID: id(all[end-1])})
		if err != nil {
			return err
		}
		res.Set(p.next, protoreflect.ValueOfString(tok))
	}
	return nil
}
