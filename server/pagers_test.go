package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/hlgate/hlgate/gen/highlevel"
	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// fakeHL is a server whose upstream is handler, for answers the sandbox
// never gives; a nil handler fails any upstream call.
func fakeHL(t testing.TB, handler http.HandlerFunc) *Server {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("unexpected upstream call %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
		}
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	hl, err := highlevel.NewClientWithResponses(srv.URL, highlevel.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Upstream: hl, Tokens: noTokens{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pagedRecord is one record of a fake upstream list.
type pagedRecord struct {
	ID string
	At int64 // epoch ms: the startAfter order, with ties
}

// fakeRecords is n records in (At, ID) order, every third tied with the
// one before, so cursors cross ties.
func fakeRecords(n int) []pagedRecord {
	out := make([]pagedRecord, n)
	at := int64(1625203104328)
	for i := range out {
		if i%3 != 2 {
			at += 1000
		}
		out[i] = pagedRecord{ID: fmt.Sprintf("r%03d", i), At: at}
	}
	return out
}

// walk calls next until it returns no token, collecting ids, failing on a
// repeated id; page sizes cycle through sizes.
func walk(t *testing.T, sizes []int32, next func(size int32, token string) ([]string, string)) []string {
	t.Helper()
	var all []string
	seen := map[string]bool{}
	token := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("more than 100 pages")
		}
		ids, tok := next(sizes[page%len(sizes)], token)
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%s returned twice (page %d)", id, page)
			}
			seen[id] = true
		}
		all = append(all, ids...)
		if tok == "" {
			return all
		}
		if len(ids) == 0 {
			t.Fatalf("empty page %d with a next page token", page)
		}
		token = tok
	}
}

func wantIDs(t *testing.T, got []string, recs []pagedRecord) {
	t.Helper()
	want := make([]string, len(recs))
	for i, r := range recs {
		want[i] = r.ID
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("walked ids (-want +got):\n%s", d)
	}
}

// The offset pager (payments) walks every record once, in HighLevel's
// order, asking for limit and offset, while the caller changes page_size
// between pages (AIP-158); the token is bound to the filters and method,
// and a bad one never reaches HighLevel.
func TestOffsetPagerWalksEveryPage(t *testing.T) {
	t.Parallel()
	const loc = "LocationA0000000001"
	recs := fakeRecords(23)
	var calls []url.Values
	s := fakeHL(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		calls = append(calls, q)
		limit, _ := strconv.Atoi(q.Get("limit"))
		off, _ := strconv.Atoi(q.Get("offset"))
		var data []map[string]any
		for _, rec := range recs[min(off, len(recs)):min(off+limit, len(recs))] {
			data = append(data, map[string]any{"_id": rec.ID, "altId": loc, "altType": "location"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "totalCount": len(recs)})
	})
	method := hlgatev1.PaymentsService_ListTransactions_FullMethodName
	got := walk(t, []int32{5, 7}, func(size int32, token string) ([]string, string) {
		out, err := callForward(t.Context(), s, method, &hlgatev1.ListTransactionsRequest{LocationId: loc, ContactId: "c1", PageSize: size, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		res := out.(*hlgatev1.ListTransactionsResponse)
		if res.GetTotalSize() != int32(len(recs)) {
			t.Fatalf("total_size %d", res.GetTotalSize())
		}
		var ids []string
		for _, tx := range res.GetTransactions() {
			ids = append(ids, tx.GetId())
		}
		return ids, res.GetNextPageToken()
	})
	wantIDs(t, got, recs)
	var offsets []string
	for _, q := range calls {
		offsets = append(offsets, q.Get("offset")+"+"+q.Get("limit"))
		if q.Get("contactId") != "c1" || q.Get("altId") != loc || q.Get("altType") != "location" {
			t.Errorf("page asked with %v", q)
		}
	}
	if d := cmp.Diff([]string{"0+5", "5+7", "12+5", "17+7"}, offsets); d != "" {
		t.Errorf("offsets (-want +got):\n%s", d)
	}

	first, err := callForward(t.Context(), s, method, &hlgatev1.ListTransactionsRequest{LocationId: loc, ContactId: "c1", PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	tok := first.(*hlgatev1.ListTransactionsResponse).GetNextPageToken()
	before := len(calls)
	for name, call := range map[string]func() error{
		"other filter": func() error {
			_, err := callForward(t.Context(), s, method, &hlgatev1.ListTransactionsRequest{LocationId: loc, ContactId: "c2", PageToken: tok})
			return err
		},
		"other method": func() error {
			_, err := callForward(t.Context(), s, hlgatev1.PaymentsService_ListOrders_FullMethodName, &hlgatev1.ListOrdersRequest{LocationId: loc, ContactId: "c1", PageToken: tok})
			return err
		},
		"tampered": func() error {
			_, err := callForward(t.Context(), s, method, &hlgatev1.ListTransactionsRequest{LocationId: loc, ContactId: "c1", PageToken: tok[:len(tok)-2] + "AA"})
			return err
		},
	} {
		wantFieldViolation(t, wantStatus(t, call(), codes.InvalidArgument, ReasonInvalidArgument), "page_token")
		_ = name
	}
	_, err = callForward(t.Context(), s, method, &hlgatev1.ListTransactionsRequest{LocationId: loc, PageSize: -1})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "page_size")
	if len(calls) != before {
		t.Fatalf("bad pages reached HighLevel: %d calls, want %d", len(calls), before)
	}
}

// The startAfter pager (opportunities search) walks every record once
// across cursor ties, although HighLevel repeats the last record's cursor
// on the last page: meta.total ends the walk.
func TestStartAfterPagerWalksEveryPage(t *testing.T) {
	t.Parallel()
	const loc = "LocationA0000000001"
	recs := fakeRecords(23)
	var calls []url.Values
	s := fakeHL(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		calls = append(calls, q)
		limit, _ := strconv.Atoi(q.Get("limit"))
		start := 0
		if q.Has("startAfter") {
			at, err := strconv.ParseInt(q.Get("startAfter"), 10, 64)
			if err != nil {
				t.Errorf("startAfter %q is not HighLevel's epoch ms", q.Get("startAfter"))
			}
			start = slices.IndexFunc(recs, func(rec pagedRecord) bool {
				return rec.At > at || rec.At == at && rec.ID > q.Get("startAfterId")
			})
			if start < 0 {
				start = len(recs)
			}
		}
		page := recs[start:min(start+limit, len(recs))]
		items := []map[string]any{}
		for _, rec := range page {
			items = append(items, map[string]any{"id": rec.ID, "locationId": loc})
		}
		last := recs[len(recs)-1] // on the last page HighLevel repeats it
		if len(page) > 0 {
			last = page[len(page)-1]
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"opportunities": items, "aggregations": map[string]any{},
			"meta": map[string]any{"total": len(recs), "startAfter": last.At, "startAfterId": last.ID, "currentPage": 1}})
	})
	method := hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName
	got := walk(t, []int32{5}, func(size int32, token string) ([]string, string) {
		out, err := callForward(t.Context(), s, method, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PipelineId: "p1", PageSize: size, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		res := out.(*hlgatev1.SearchOpportunitiesResponse)
		if res.GetTotalSize() != int32(len(recs)) {
			t.Fatalf("total_size %d", res.GetTotalSize())
		}
		var ids []string
		for _, o := range res.GetOpportunities() {
			ids = append(ids, o.GetId())
		}
		return ids, res.GetNextPageToken()
	})
	wantIDs(t, got, recs)
	if len(calls) != 5 || calls[0].Has("startAfter") || calls[1].Get("startAfterId") != recs[4].ID || calls[0].Get("pipeline_id") != "p1" {
		t.Errorf("pages asked with %v", calls)
	}
	first, err := callForward(t.Context(), s, method, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PipelineId: "p1", PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	before := len(calls)
	_, err = callForward(t.Context(), s, method, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PipelineId: "p2",
		PageToken: first.(*hlgatev1.SearchOpportunitiesResponse).GetNextPageToken()})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "page_token")
	if len(calls) != before {
		t.Fatal("a token of other filters reached HighLevel")
	}
}

// The searchAfter pager (the contacts search row) walks every record once:
// the first page by page number, then by the searchAfter of each page's
// last record, which is stripped from every record; a page without one
// continues by page number in the size the page numbers count in, and page
// numbers stop at HighLevel's 10,000 records. Driven through the pager's
// own steps, as no RPC serves it generically yet (SearchContacts is
// hand-written).
func TestSearchAfterPager(t *testing.T) {
	t.Parallel()
	row, _ := optable.Lookup("search-contacts-advanced")
	p := &pagedRPC{style: row.Paging, pager: row.Pager, spec: pageSpec(row.Pager, row.Confirm)}
	recs := fakeRecords(23)
	// answer is HighLevel's page for the pager's values; withCursor false
	// leaves searchAfter out of the records.
	answer := func(vals []pagerValue, withCursor bool) map[string]any {
		body := map[string]any{}
		for _, v := range vals {
			if v.In != "body" {
				t.Fatalf("%s sent in %s", v.Name, v.In)
			}
			body[v.Name] = v.value
		}
		size := body["pageLimit"].(int)
		start := 0
		if sa, ok := body["searchAfter"].(json.RawMessage); ok {
			if _, both := body["page"]; both {
				t.Fatal("page and searchAfter sent together")
			}
			var after []any
			if err := json.Unmarshal(sa, &after); err != nil {
				t.Fatal(err)
			}
			start = slices.IndexFunc(recs, func(r pagedRecord) bool { return r.ID == after[1] }) + 1
		} else {
			start = (body["page"].(int) - 1) * size
		}
		var items []any
		for _, r := range recs[min(start, len(recs)):min(start+size, len(recs))] {
			it := map[string]any{"id": r.ID}
			if withCursor {
				it["searchAfter"] = []any{json.Number(strconv.FormatInt(r.At, 10)), r.ID}
			}
			items = append(items, it)
		}
		return map[string]any{"contacts": items, "total": json.Number(strconv.Itoa(len(recs)))}
	}
	for _, withCursor := range []bool{true, false} {
		var got []string
		pg := page{size: 5}
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("no end")
			}
			vals := p.request(pg)
			if withCursor && pages > 0 && !slices.ContainsFunc(vals, func(v pagerValue) bool { return v.Name == "searchAfter" }) {
				t.Fatalf("page %d asked without searchAfter: %v", pages, vals)
			}
			obj := answer(vals, withCursor)
			ap, err := p.take(obj)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range obj["contacts"].([]any) {
				if _, kept := it.(map[string]any)["searchAfter"]; kept {
					t.Fatal("searchAfter left in a record")
				}
				got = append(got, it.(map[string]any)["id"].(string))
			}
			next, ok := p.nextCursor(pg, ap)
			if !ok {
				break
			}
			// Through JSON, as the page token carries it; the caller asks
			// for another size, which page numbers must not follow.
			b, _ := json.Marshal(next)
			pg = page{size: 8}
			if err := json.Unmarshal(b, &pg.up); err != nil {
				t.Fatal(err)
			}
			if pg.up.Page > 0 {
				pg.size = pg.up.Size
			}
		}
		wantIDs(t, got, recs)
	}

	// Page numbers stop at 10,000 records, even when the total says more.
	if _, ok := p.nextCursor(page{size: 500, up: upstreamCursor{Seen: 9500, Page: 20, Size: 500}}, answerPage{n: 500, total: 20000}); ok {
		t.Error("page numbers went past 10,000 records")
	}
	if _, ok := p.nextCursor(page{size: 500, up: upstreamCursor{Seen: 9000, Page: 19, Size: 500}}, answerPage{n: 500, total: 20000}); !ok {
		t.Error("page numbers stopped before 10,000 records")
	}
	// A cursor reaches past them.
	if next, ok := p.nextCursor(page{size: 500, up: upstreamCursor{Seen: 9500}}, answerPage{n: 500, total: 20000, after: []json.RawMessage{json.RawMessage(`[1,"x"]`)}}); !ok || next.Seen != 10000 {
		t.Error("the cursor stopped at 10,000 records")
	}
}

// A cursor of several sort values (a search's [date, tiebreaker]) reaches
// a query as one parameter per value, as OpenAPI's default query style
// spells an array; a single value, a string or a number, as one parameter.
func TestQueryCursorOfSeveralValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value any
		want  []string
	}{
		{json.RawMessage(`[1700000000000,"b7"]`), []string{"1700000000000", "b7"}},
		{json.RawMessage(`[1700000000000]`), []string{"1700000000000"}},
		{json.RawMessage(`"2026-04-14T15:07:00.000Z"`), []string{"2026-04-14T15:07:00.000Z"}},
		{json.RawMessage(`1700000000000`), []string{"1700000000000"}},
		{json.RawMessage(`[]`), []string{"[]"}},
		{40, []string{"40"}},
	} {
		if got := queryTexts(tc.value); !slices.Equal(got, tc.want) {
			t.Errorf("queryTexts(%s) = %q, want %q", tc.value, got, tc.want)
		}
	}
}
