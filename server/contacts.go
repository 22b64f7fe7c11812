package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// Contacts search paging (reference facts §3, §7): pageLimit at most 500;
// searchAfter, taken from the last contact of a page, walks past the 10,000
// records that page numbers reach.
const (
	contactsDefaultPageSize = defaultPageSize
	contactsMaxPageSize     = 500
)

type contactsService struct {
	hlgatev1.UnimplementedContactsServiceServer
	s *Server
}

// errMissingBody is returned when HighLevel answers 2xx without the body its
// document promises; the caller sees INTERNAL rather than an empty resource.
var errMissingBody = errors.New("upstream answered without the expected body")

// contactsCursor is the upstream position sealed in a SearchContacts page
// token: HighLevel's searchAfter of the last contact returned, or the next
// page number when a page carried none; Seen counts contacts returned so
// far, so the last page is known from HighLevel's total.
type contactsCursor struct {
	SearchAfter []any `json:"sa,omitempty"`
	Page        int   `json:"p,omitempty"`
	Seen        int   `json:"n"`
}

func (c *contactsService) SearchContacts(ctx context.Context, req *hlgatev1.SearchContactsRequest) (*hlgatev1.SearchContactsResponse, error) {
	var v violations
	v.id("location_id", req.GetLocationId())
	v.maxLen("query", req.GetQuery(), 75)
	size, err := pageSize(req.GetPageSize(), contactsDefaultPageSize, contactsMaxPageSize)
	if err != nil {
		return nil, err
	}
	body := highlevel.SearchBodyV2DTO{LocationID: req.GetLocationId(), PageLimit: size, Query: optStr(req.GetQuery())}
	if len(req.GetFilters()) > 0 {
		fs := make([]highlevel.ContactSearchFilter, 0, len(req.GetFilters()))
		for i, f := range req.GetFilters() {
			fs = append(fs, contactFilterToHL("filters["+strconv.Itoa(i)+"]", f, &v, 1))
		}
		body.Filters = &fs
	}
	if len(req.GetSort()) > 0 {
		ss := make([]highlevel.ContactSearchSort, 0, len(req.GetSort()))
		for i, s := range req.GetSort() {
			if s.GetField() == "" {
				v.add("sort["+strconv.Itoa(i)+"].field", "is required")
			}
			dir := highlevel.ContactSearchSortDirectionAsc
			if s.GetDirection() == hlgatev1.SortDirection_SORT_DIRECTION_DESC {
				dir = highlevel.ContactSearchSortDirectionDesc
			}
			ss = append(ss, highlevel.ContactSearchSort{Field: s.GetField(), Direction: dir})
		}
		body.Sort = &ss
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	cur := contactsCursor{Page: 1}
	if req.GetPageToken() != "" {
		if err := c.s.pages.open(hlgatev1.ContactsService_SearchContacts_FullMethodName, req.GetPageToken(), req, &cur); err != nil {
			return nil, err
		}
	}
	if len(cur.SearchAfter) > 0 {
		body.SearchAfter = &cur.SearchAfter
	} else {
		page := max(cur.Page, 1)
		body.Page = &page
	}
	// A search changes nothing; the operation table marks it safe to resend.
	resp, err := c.s.hl.SearchContactsAdvanced(upstreamCtx(ctx, req.GetLocationId()), body)
	raw, err := readUpstream(resp, err)
	if err != nil {
		return nil, err
	}
	// The page's envelope is read here; each contact is decoded without
	// loss like GetContact's, less the searchAfter cursor, which is paging
	// state, not contact data.
	pageOf, err := searchPage(raw)
	if err != nil {
		return nil, fmt.Errorf("decode HighLevel's search answer: %w", err)
	}
	c.s.countUnmapped(ctx, pageOf.report)
	out := &hlgatev1.SearchContactsResponse{TotalSize: int32(pageOf.total), Contacts: pageOf.contacts}
	lastSearchAfter, _ := pageOf.searchAfter.([]any)
	seen := cur.Seen + len(out.Contacts)
	if n := len(out.Contacts); n > 0 && n >= size && seen < pageOf.total {
		next := contactsCursor{Seen: seen, Page: max(cur.Page, 1) + 1}
		if len(lastSearchAfter) > 0 {
			next = contactsCursor{Seen: seen, SearchAfter: lastSearchAfter}
		}
		tok, err := c.s.pages.seal(hlgatev1.ContactsService_SearchContacts_FullMethodName, req, next)
		if err != nil {
			return nil, err
		}
		out.NextPageToken = tok
	}
	return out, nil
}

// contactsPage is HighLevel's contact search answer: its contacts, the last
// one's searchAfter cursor, what decoding them reported, and the total.
type contactsPage struct {
	contacts    []*hlgatev1.Contact
	searchAfter any
	report      jsonproto.Report
	total       int
}

// searchPage reads a contact search answer: "contacts", a list of objects
// (null for none, a null entry an empty contact), streamed into contacts,
// and "total", an integer (absent or null for 0). Anything else in those
// two is an error; other members are not read.
func searchPage(raw []byte) (contactsPage, error) {
	lp, err := jsonproto.DecodeListMember(raw, "contacts", func() proto.Message { return &hlgatev1.Contact{} }, "searchAfter")
	if err != nil {
		return contactsPage{}, err
	}
	var page contactsPage
	if lp.Found {
		page.contacts = make([]*hlgatev1.Contact, len(lp.Items))
		for i, m := range lp.Items {
			page.contacts[i] = m.(*hlgatev1.Contact)
		}
		page.searchAfter, page.report = lp.Last, lp.Report
	}
	if b, ok := lp.Members["total"]; ok {
		v, err := jsonproto.Parse(b)
		if err != nil {
			return contactsPage{}, err
		}
		switch n := v.(type) {
		case nil:
		case json.Number:
			total, err := strconv.ParseInt(string(n), 10, 32)
			if err != nil {
				return contactsPage{}, fmt.Errorf("total: want an integer, got %s", n)
			}
			page.total = int(total)
		default:
			return contactsPage{}, fmt.Errorf("total: want an integer, got %T", n)
		}
	}
	return page, nil
}

// sameLocation refuses a resource of another location: HighLevel scopes a
// token to its location, and hlgate checks again so that a caller key
// limited to one location can never read another's data by id.
func sameLocation(want string, got *string) error {
	if got != nil && *got != "" && *got != want {
		return statusError(codes.NotFound, "not found", ReasonNotFound)
	}
	return nil
}
