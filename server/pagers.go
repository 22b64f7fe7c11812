package server

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hlgate/hlgate/gen/optable"
)

// Pagers: the upstream paging styles behind one opaque page_token. A paged
// RPC's request has page_size and page_token, its response the list and
// next_page_token; the row's Paging says how the upstream pages.

// clientMaxPageSize bounds the pages hlgate cuts from a whole-list answer.
const clientMaxPageSize = 100

// pagedRPC is what a generic paged RPC binds at start.
type pagedRPC struct {
	size, token protoreflect.FieldDescriptor // request: page_size, page_token
	next        protoreflect.FieldDescriptor // response: next_page_token
	items       protoreflect.FieldDescriptor // response: the one repeated message field
	itemID      protoreflect.FieldDescriptor // the items' id, their order
}

// bindPaging binds the paging fields of a paged RPC; nil for an RPC whose
// operation does not page.
func bindPaging(m protoreflect.MethodDescriptor, row *optable.Op, used map[protoreflect.Name]bool) (*pagedRPC, error) {
	if row.Paging == optable.PagingNone {
		return nil, nil
	}
	if row.Paging != optable.PagingClient {
		return nil, fmt.Errorf("paging %q has no generic pager yet (list the RPC in handWritten)", row.Paging)
	}
	req, res := m.Input().Fields(), m.Output().Fields()
	p := &pagedRPC{size: req.ByName("page_size"), token: req.ByName("page_token"), next: res.ByName("next_page_token")}
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
	if p.itemID = p.items.Message().Fields().ByName("id"); p.itemID == nil || p.itemID.Kind() != protoreflect.StringKind {
		return nil, fmt.Errorf("client paging orders %s by id, which it lacks", p.items.Message().FullName())
	}
	used[p.size.Name()], used[p.token.Name()] = true, true
	return p, nil
}

// page is the position a paged call starts from: its size and the cursor
// its page token sealed. It is read before anything is sent, so a bad size
// or token never reaches HighLevel.
type page struct {
	size int
	cur  keyCursor
}

// openPage reads a paged request's size and token.
func (s *Server) openPage(method string, p *pagedRPC, in proto.Message) (page, error) {
	req := in.ProtoReflect()
	size, err := pageSize(int32(req.Get(p.size).Int()), defaultPageSize, clientMaxPageSize)
	if err != nil {
		return page{}, err
	}
	pg := page{size: size}
	if tok := req.Get(p.token).String(); tok != "" {
		if err := s.pages.open(method, tok, in, &pg.cur); err != nil {
			return page{}, err
		}
	}
	return pg, nil
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
