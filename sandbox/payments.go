package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// altLocation checks the altId/altType pair every payments call carries:
// altType must be "location" (the only owner the sandbox has) and altId,
// like an optional locationId, the token's location.
func (s *Sandbox) altLocation(c *call, q url.Values, needType bool) (*locStore, *apiError) {
	var p problems
	p.add(required("altId", q.Get("altId"))...)
	if needType {
		p.add(required("altType", q.Get("altType"))...)
	}
	if v := q.Get("altType"); v != "" && v != "location" {
		p.add("altType must be one of the following values: location")
	}
	if aerr := p.err(); aerr != nil {
		return nil, aerr
	}
	if v := q.Get("locationId"); v != "" && v != q.Get("altId") {
		return nil, errBadRequest("locationId must equal altId")
	}
	return s.locationStore(c, q.Get("altId"))
}

// dayRange parses the optional startAt/endAt (YYYY-MM-DD, UTC, inclusive).
func dayRange(q url.Values, p *problems) (from, to time.Time) {
	if v := q.Get("startAt"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			p.add("startAt must be a date in YYYY-MM-DD format")
		}
		from = t
	}
	if v := q.Get("endAt"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			p.add("endAt must be a date in YYYY-MM-DD format")
		}
		to = t.AddDate(0, 0, 1)
	}
	return from, to
}

func paymentMode(q url.Values, p *problems) string {
	v := q.Get("paymentMode")
	if v != "" && v != "live" && v != "test" {
		p.add("paymentMode must be one of the following values: live, test")
	}
	return v
}

// newestFirst orders payments records by creation time, newest first, id
// descending on ties, so offsets walk a stable order.
func newestFirst(ta, tb time.Time, ia, ib string) int {
	if c := tb.Compare(ta); c != 0 {
		return c
	}
	return strings.Compare(ib, ia)
}

func (s *Sandbox) opListOrders(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	limit, m1 := queryInt(q, "limit", 10, 1, 100)
	offset, m2 := queryInt(q, "offset", 0, 0, 1<<30)
	p.add(m1, m2)
	from, to := dayRange(q, &p)
	mode := paymentMode(q, &p)
	ps := q.Get("paymentStatus")
	if ps != "" && !slices.Contains([]string{"paid", "unpaid", "refunded", "partially_paid"}, ps) {
		p.add("paymentStatus must be one of the following values: paid, unpaid, refunded, partially_paid")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.altLocation(c, q, false)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var products []string
	if v := q.Get("funnelProductIds"); v != "" {
		products = strings.Split(v, ",")
	}
	search := strings.ToLower(q.Get("search"))
	l.mu.RLock()
	var hits []*Order
	for _, o := range l.orders {
		switch {
		case q.Get("status") != "" && o.Status != q.Get("status"),
			ps != "" && o.PaymentStatus != ps,
			mode == "live" && !o.LiveMode, mode == "test" && o.LiveMode,
			!from.IsZero() && o.created.Before(from),
			!to.IsZero() && !o.created.Before(to),
			q.Get("contactId") != "" && o.ContactID != q.Get("contactId"),
			q.Get("sourceId") != "" && o.SourceID != q.Get("sourceId"),
			products != nil && !slices.Contains(products, o.SourceID),
			search != "" && !strings.Contains(strings.ToLower(o.ContactName), search) &&
				!strings.Contains(strings.ToLower(o.ContactEmail), search) && o.ID != q.Get("search"):
			continue
		}
		hits = append(hits, o)
	}
	slices.SortFunc(hits, func(a, b *Order) int { return newestFirst(a.created, b.created, a.ID, b.ID) })
	page := window(hits, offset, limit)
	if page == nil {
		page = []*Order{}
	}
	b := marshal(map[string]any{"data": page, "totalCount": len(hits)})
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opGetOrder(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.altLocation(c, r.URL.Query(), true)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l.mu.RLock()
	o, ok := l.orders[r.PathValue("orderId")]
	var b []byte
	if ok {
		ct := l.contacts[o.ContactID]
		snap := map[string]any{"id": o.ContactID, "name": o.ContactName, "email": o.ContactEmail}
		if ct != nil {
			snap["phone"] = ct.Phone
		}
		b = marshal(struct {
			*Order
			ContactSnapshot map[string]any `json:"contactSnapshot"`
			AmountSummary   map[string]any `json:"amountSummary"`
			Source          map[string]any `json:"source"`
			Items           []any          `json:"items"`
		}{o, snap, map[string]any{"subtotal": o.Subtotal, "discount": o.Discount},
			map[string]any{"type": o.SourceType, "id": o.SourceID, "name": o.SourceName}, []any{}})
	}
	l.mu.RUnlock()
	if !ok {
		writeError(w, errBadRequest("Order not found")) // upstream answers 400 for an unknown order id
		return
	}
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opListTransactions(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	limit, m1 := queryInt(q, "limit", 10, 1, 100)
	offset, m2 := queryInt(q, "offset", 0, 0, 1<<30)
	p.add(m1, m2)
	from, to := dayRange(q, &p)
	mode := paymentMode(q, &p)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.altLocation(c, q, true)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	search := strings.ToLower(q.Get("search"))
	l.mu.RLock()
	var hits []*Transaction
	for _, t := range l.transactions {
		switch {
		case mode == "live" && !t.LiveMode, mode == "test" && t.LiveMode,
			!from.IsZero() && t.created.Before(from),
			!to.IsZero() && !t.created.Before(to),
			q.Get("entitySourceType") != "" && t.EntitySourceType != q.Get("entitySourceType"),
			q.Get("entitySourceSubType") != "" && t.EntitySourceSubType != q.Get("entitySourceSubType"),
			q.Get("subscriptionId") != "" && t.SubscriptionID != q.Get("subscriptionId"),
			q.Get("entityId") != "" && t.EntityID != q.Get("entityId"),
			q.Get("contactId") != "" && t.ContactID != q.Get("contactId"),
			search != "" && !strings.Contains(strings.ToLower(t.ContactName), search) &&
				!strings.Contains(strings.ToLower(t.ContactEmail), search) && t.ID != q.Get("search"):
			continue
		}
		hits = append(hits, t)
	}
	slices.SortFunc(hits, func(a, b *Transaction) int { return newestFirst(a.created, b.created, a.ID, b.ID) })
	page := window(hits, offset, limit)
	if page == nil {
		page = []*Transaction{}
	}
	b := marshal(map[string]any{"data": page, "totalCount": len(hits)})
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opGetTransaction(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.altLocation(c, r.URL.Query(), true)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l.mu.RLock()
	t, ok := l.transactions[r.PathValue("transactionId")]
	var b []byte
	if ok {
		b = marshal(struct {
			*Transaction
			EntitySource map[string]any `json:"entitySource"`
		}{t, map[string]any{"type": t.EntitySourceType, "id": t.EntitySourceID, "name": t.EntitySourceName}})
	}
	l.mu.RUnlock()
	if !ok {
		writeError(w, errBadRequest("Transaction not found")) // upstream answers 400 for an unknown transaction id
		return
	}
	writeBody(w, http.StatusOK, b)
}
