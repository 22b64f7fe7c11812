package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
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
		items := make([]any, 0, len(o.Items))
		for _, it := range o.Items {
			items = append(items, l.itemJSON(o, it, it.ID, it.Qty))
		}
		b = marshal(struct {
			*Order
			ContactSnapshot map[string]any `json:"contactSnapshot"`
			AmountSummary   map[string]any `json:"amountSummary"`
			Source          map[string]any `json:"source"`
			Items           []any          `json:"items"`
		}{o, snap, map[string]any{"subtotal": o.Subtotal, "discount": o.Discount},
			map[string]any{"type": o.SourceType, "id": o.SourceID, "name": o.SourceName}, items})
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

// The payments operations whose behaviour matters beyond the engine's
// documents: a recorded payment changes its order, and a coupon is
// addressed by ids in its query or body rather than by its path.

// paidAmount is what an order's succeeded transactions have collected.
// Callers hold l.mu.
func (l *locStore) paidAmount(orderID string) float64 {
	var paid float64
	for _, t := range l.transactions {
		if t.EntityType == "order" && t.EntityID == orderID && t.Status == "succeeded" {
			paid += t.Amount
		}
	}
	return paid
}

// opRecordOrderPayment records a manual payment of an order (POST
// /payments/orders/{orderId}/record-payment). The document says the call
// records the payment and updates the order's status to paid; the sandbox
// reads it strictly: the payment is a succeeded transaction of the order
// (listed by GET /payments/transactions?entityId=<orderId>), a payment
// without an amount pays what is due, a partial payment (isPartialPayment)
// names an amount below what is due and leaves the order partially_paid,
// any other amount must be exactly what is due, and an order that is paid,
// refunded or cancelled takes no payment. A card payment names its card, a
// cheque its number.
func (s *Sandbox) opRecordOrderPayment(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		AltID            string          `json:"altId"`
		AltType          string          `json:"altType"`
		Mode             string          `json:"mode"`
		Card             *map[string]any `json:"card"`
		Cheque           *map[string]any `json:"cheque"`
		Notes            string          `json:"notes"`
		Amount           *float64        `json:"amount"`
		IsPartialPayment bool            `json:"isPartialPayment"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	switch {
	case body.Mode == "card" && body.Card == nil:
		p.add("card must be given when mode is card")
	case body.Mode == "cheque" && body.Cheque == nil:
		p.add("cheque must be given when mode is cheque")
	}
	if body.Amount != nil && *body.Amount <= 0 {
		p.add("amount must be a positive number")
	}
	if body.IsPartialPayment && body.Amount == nil {
		p.add("amount must be given for a partial payment")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body.AltID); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.orders[r.PathValue("orderId")]
	if !ok {
		writeError(w, errBadRequest("Order not found")) // the document's 400
		return
	}
	switch {
	case o.Status == "cancelled":
		writeError(w, errBadRequest("Order is cancelled"))
		return
	case o.PaymentStatus == "paid" || o.PaymentStatus == "refunded":
		writeError(w, errBadRequest("Order is already %s", o.PaymentStatus))
		return
	}
	due := o.Amount - l.paidAmount(o.ID)
	amount := due
	if body.Amount != nil {
		amount = *body.Amount
	}
	switch {
	case body.IsPartialPayment && amount >= due:
		writeError(w, errBadRequest("amount of a partial payment must be less than the amount due (%g)", due))
		return
	case !body.IsPartialPayment && amount != due:
		writeError(w, errBadRequest("amount must be the amount due (%g), or the payment partial", due))
		return
	}
	now := s.now().UTC()
	ct := l.contacts[o.ContactID]
	tx := &Transaction{
		ID: l.newID(), AltID: l.id, AltType: "location", ContactID: o.ContactID, ContactName: o.ContactName,
		ContactEmail: o.ContactEmail, Currency: o.Currency, Amount: amount, Status: "succeeded", LiveMode: o.LiveMode,
		EntityType: "order", EntityID: o.ID, EntitySourceType: o.SourceType, EntitySourceName: o.SourceName,
		EntitySourceID: o.SourceID, ChargeID: "manual_" + body.Mode, PaymentProviderType: "manual", created: now,
	}
	if ct != nil {
		tx.ContactEmail = ct.Email
	}
	tx.CreatedAt, tx.UpdatedAt, tx.FulfilledAt = fmtTime(now), fmtTime(now), fmtTime(now)
	l.transactions[tx.ID] = tx
	if body.IsPartialPayment {
		o.PaymentStatus = "partially_paid"
	} else {
		o.PaymentStatus, o.Status = "paid", "completed"
	}
	o.UpdatedAt = fmtTime(now)
	writeBody(w, http.StatusOK, marshal(map[string]any{"success": true}))
}

// collCoupons is the engine's collection of coupons: POST /payments/coupon
// creates in it and GET /payments/coupon/list lists it; the handlers below
// read, change and delete its documents by the id the query or body names.
const collCoupons = "/payments/coupon"

// couponTrace is the traceId the coupon answers carry.
const couponTrace = "sandbox-coupon-trace"

// couponDoc is a coupon as the answers declare it (CouponDto), from the
// members a create or an update sends. The request's limitPerCustomer is a
// boolean (redeemed at most once per customer) where the answer's is a
// number (the uses per customer, 0 for unlimited): true is 1, false 0. The
// status follows the dates on the sandbox's clock.
func couponDoc(doc map[string]any, now time.Time) (map[string]any, *apiError) {
	if v, ok := doc["limitPerCustomer"].(bool); ok {
		doc["limitPerCustomer"] = map[bool]int{true: 1, false: 0}[v]
	} else if _, ok := doc["limitPerCustomer"]; !ok {
		doc["limitPerCustomer"] = 0
	}
	if _, ok := doc["applyToFuturePayments"]; !ok {
		doc["applyToFuturePayments"] = true
	}
	if _, ok := doc["applyToFuturePaymentsConfig"]; !ok {
		doc["applyToFuturePaymentsConfig"] = map[string]any{"type": "forever"}
	}
	var p problems
	start, err := time.Parse(time.RFC3339, fmt.Sprint(doc["startDate"]))
	if err != nil {
		p.add("startDate must be a date in YYYY-MM-DDTHH:mm:ssZ format")
	}
	var end time.Time
	if v, ok := doc["endDate"]; ok {
		if end, err = time.Parse(time.RFC3339, fmt.Sprint(v)); err != nil {
			p.add("endDate must be a date in YYYY-MM-DDTHH:mm:ssZ format")
		} else if !end.After(start) {
			p.add("endDate must be after startDate")
		}
	}
	if v, _ := doc["discountValue"].(float64); v <= 0 || doc["discountType"] == "percentage" && v > 100 {
		p.add("discountValue must be positive, and at most 100 for a percentage")
	}
	if aerr := p.err(); aerr != nil {
		return nil, aerr
	}
	doc["status"] = couponStatus(doc, now)
	doc["updatedAt"] = fmtTime(now)
	return doc, nil
}

// couponStatus is a stored coupon's status at now: scheduled before its
// startDate, expired from its endDate, active between.
func couponStatus(doc map[string]any, now time.Time) string {
	start, _ := time.Parse(time.RFC3339, fmt.Sprint(doc["startDate"]))
	end, err := time.Parse(time.RFC3339, fmt.Sprint(doc["endDate"]))
	switch {
	case err == nil && !now.Before(end):
		return "expired"
	case now.Before(start):
		return "scheduled"
	}
	return "active"
}

// coupons decodes the location's coupons in creation order, each with its
// status at now. Callers hold l.mu.
func (l *locStore) coupons(now time.Time) []map[string]any {
	var out []map[string]any
	for _, d := range l.coll(collCoupons, false).list() {
		var doc map[string]any
		if json.Unmarshal(d, &doc) == nil {
			doc["status"] = couponStatus(doc, now)
			out = append(out, doc)
		}
	}
	return out
}

// opListCoupons lists a location's coupons (GET /payments/coupon/list),
// filtered by status and by a search of their name or code, a page of
// limit (default 100) from offset.
func (s *Sandbox) opListCoupons(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	limit, m1 := queryInt(q, "limit", 100, 1, 1<<30)
	offset, m2 := queryInt(q, "offset", 0, 0, 1<<30)
	p.add(m1, m2)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(q.Get("altId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	search := strings.ToLower(q.Get("search"))
	l := s.tokenStore(c)
	l.mu.RLock()
	all := l.coupons(s.now())
	l.mu.RUnlock()
	hits := []map[string]any{}
	for _, doc := range all {
		name, _ := doc["name"].(string)
		code, _ := doc["code"].(string)
		if st := q.Get("status"); st != "" && doc["status"] != st ||
			search != "" && !strings.Contains(strings.ToLower(name), search) && !strings.Contains(strings.ToLower(code), search) {
			continue
		}
		hits = append(hits, doc)
	}
	page := window(hits, offset, limit)
	if page == nil {
		page = []map[string]any{}
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"data": page, "totalCount": len(hits), "traceId": couponTrace}))
}

// couponAnswer is a coupon's answer (CreateCouponResponseDto): the coupon
// with the request's traceId.
func couponAnswer(doc map[string]any) []byte {
	out := maps.Clone(doc)
	out["traceId"] = couponTrace
	return marshal(out)
}

// couponCodeTaken reports whether another coupon of the location has the
// code. Callers hold l.mu.
func (l *locStore) couponCodeTaken(code, except string) bool {
	for _, d := range l.coll(collCoupons, false).list() {
		var doc map[string]any
		if json.Unmarshal(d, &doc) == nil && doc["code"] == code && doc["_id"] != except {
			return true
		}
	}
	return false
}

// opCreateCoupon creates a coupon (POST /payments/coupon); a code already in
// use by another coupon of the location is refused.
func (s *Sandbox) opCreateCoupon(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := decodeObject(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	altID, _ := body["altId"].(string)
	if aerr := c.ownLocation(altID); aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	doc, aerr := couponDoc(body, now)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if code, _ := doc["code"].(string); l.couponCodeTaken(code, "") {
		writeError(w, errBadRequest("Coupon code %s already exists", code))
		return
	}
	id := l.newID()
	doc["_id"], doc["usageCount"], doc["createdAt"] = id, 0, fmtTime(now)
	l.coll(collCoupons, true).put(id, marshal(doc))
	writeBody(w, http.StatusCreated, couponAnswer(doc))
}

// opGetCoupon reads a coupon (GET /payments/coupon). The document requires
// both id and code; the stricter reading is that they must name the same
// coupon.
func (s *Sandbox) opGetCoupon(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if aerr := c.ownLocation(q.Get("altId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	all := l.coupons(s.now())
	l.mu.RUnlock()
	for _, doc := range all {
		if doc["_id"] == q.Get("id") && doc["code"] == q.Get("code") {
			writeBody(w, http.StatusOK, couponAnswer(doc))
			return
		}
	}
	writeError(w, errNotFound("Coupon not found"))
}

// opUpdateCoupon changes a coupon (PUT /payments/coupon, the id in the
// body): the body's members replace the coupon's, and the answer is the
// coupon.
func (s *Sandbox) opUpdateCoupon(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := decodeObject(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	altID, _ := body["altId"].(string)
	if aerr := c.ownLocation(altID); aerr != nil {
		writeError(w, aerr)
		return
	}
	id, _ := body["id"].(string)
	delete(body, "id")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.doc(collCoupons, id)
	var doc map[string]any
	if !ok || json.Unmarshal(old, &doc) != nil {
		writeError(w, errNotFound("Coupon not found"))
		return
	}
	for k, v := range body {
		doc[k] = v
	}
	if code, _ := doc["code"].(string); l.couponCodeTaken(code, id) {
		writeError(w, errBadRequest("Coupon code %s already exists", code))
		return
	}
	if doc, aerr = couponDoc(doc, s.now()); aerr != nil {
		writeError(w, aerr)
		return
	}
	l.coll(collCoupons, true).put(id, marshal(doc))
	writeBody(w, http.StatusOK, couponAnswer(doc))
}

// opDeleteCoupon deletes a coupon (DELETE /payments/coupon, the id in the
// body).
func (s *Sandbox) opDeleteCoupon(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		AltID   string `json:"altId"`
		AltType string `json:"altType"`
		ID      string `json:"id"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body.AltID); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	cl := l.coll(collCoupons, false)
	ok := cl != nil && cl.remove(body.ID)
	l.mu.Unlock()
	if !ok {
		writeError(w, errNotFound("Coupon not found"))
		return
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"success": true, "traceId": couponTrace}))
}

// A custom payment provider is the token's marketplace app's in a location:
// one document of the collection collCustomProviders, keyed by the app.
const collCustomProviders = "/payments/custom-provider/provider"

// customProvider runs edit on the app's provider in the location the query
// names (the token's own), under the location's lock; a nil provider is
// absent, and edit's result is stored (nil removes it).
func (s *Sandbox) customProvider(c *call, locationID string, edit func(l *locStore, p map[string]any) (map[string]any, *apiError)) (map[string]any, *apiError) {
	l, aerr := s.locationStore(c, locationID)
	if aerr != nil {
		return nil, aerr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var p map[string]any
	if raw, ok := l.doc(collCustomProviders, c.tok.appID); ok {
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, errBadRequest("stored custom provider is not a JSON object")
		}
	}
	out, aerr := edit(l, p)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case out == nil && p != nil:
		l.coll(collCustomProviders, false).remove(c.tok.appID)
	case out != nil:
		out["updatedAt"] = fmtTime(s.now())
		l.coll(collCustomProviders, true).put(c.tok.appID, marshal(out))
	}
	return out, nil
}

var errNoCustomProvider = errNotFound("Custom provider not found for this app and location")

// opCreateCustomProvider creates the app's provider in a location (POST
// /payments/custom-provider/provider); a second one is refused.
func (s *Sandbox) opCreateCustomProvider(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := decodeObject(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	p, aerr := s.customProvider(c, r.URL.Query().Get("locationId"), func(l *locStore, p map[string]any) (map[string]any, *apiError) {
		if p != nil {
			return nil, errBadRequest("A custom provider of this app already exists in the location")
		}
		now := fmtTime(s.now())
		doc := maps.Clone(body)
		doc["_id"], doc["locationId"], doc["marketplaceAppId"], doc["deleted"], doc["createdAt"] = l.newID(), l.id, c.tok.appID, false, now
		doc["paymentProvider"] = map[string]any{} // no keys connected yet
		return doc, nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(p))
}

// opDeleteCustomProvider deletes the app's provider in a location (DELETE
// /payments/custom-provider/provider).
func (s *Sandbox) opDeleteCustomProvider(w http.ResponseWriter, r *http.Request, c *call) {
	_, aerr := s.customProvider(c, r.URL.Query().Get("locationId"), func(_ *locStore, p map[string]any) (map[string]any, *apiError) {
		if p == nil {
			return nil, errNoCustomProvider
		}
		return nil, nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"success": true}))
}

// opFetchCustomProvider answers the app's provider in a location (GET
// /payments/custom-provider/connect).
func (s *Sandbox) opFetchCustomProvider(w http.ResponseWriter, r *http.Request, c *call) {
	p, aerr := s.customProvider(c, r.URL.Query().Get("locationId"), func(_ *locStore, p map[string]any) (map[string]any, *apiError) {
		if p == nil {
			return nil, errNoCustomProvider
		}
		return p, nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(p))
}

// opConnectCustomProvider connects the live and test keys of the app's
// provider (POST /payments/custom-provider/connect): its paymentProvider
// holds each, with its liveMode.
func (s *Sandbox) opConnectCustomProvider(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		Live map[string]any `json:"live"`
		Test map[string]any `json:"test"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	p, aerr := s.customProvider(c, r.URL.Query().Get("locationId"), func(_ *locStore, p map[string]any) (map[string]any, *apiError) {
		if p == nil {
			return nil, errNoCustomProvider
		}
		live, test := maps.Clone(body.Live), maps.Clone(body.Test)
		live["liveMode"], test["liveMode"] = true, false
		p["paymentProvider"] = map[string]any{"live": live, "test": test}
		return p, nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(p))
}

// opDisconnectCustomProvider removes the live or the test keys of the app's
// provider (POST /payments/custom-provider/disconnect); keys that are not
// connected are refused.
func (s *Sandbox) opDisconnectCustomProvider(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		LiveMode bool `json:"liveMode"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	mode := map[bool]string{true: "live", false: "test"}[body.LiveMode]
	_, aerr := s.customProvider(c, r.URL.Query().Get("locationId"), func(_ *locStore, p map[string]any) (map[string]any, *apiError) {
		if p == nil {
			return nil, errNoCustomProvider
		}
		keys, _ := p["paymentProvider"].(map[string]any)
		if _, ok := keys[mode]; !ok {
			return nil, errBadRequest("The %s config is not connected", mode)
		}
		delete(keys, mode)
		return p, nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"success": true}))
}

// opCustomProviderCapabilities sets whether the app's provider supports
// subscription schedules (PUT /payments/custom-provider/capabilities). The
// body names a location or a company; a location's token names its
// location, and its companyId is refused.
func (s *Sandbox) opCustomProviderCapabilities(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		SupportsSubscriptionSchedules bool   `json:"supportsSubscriptionSchedules"`
		CompanyID                     string `json:"companyId"`
		LocationID                    string `json:"locationId"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if body.CompanyID != "" {
		writeError(w, errUnprocessable("companyId is a company's; a location's token names its locationId"))
		return
	}
	if body.LocationID == "" {
		writeError(w, errUnprocessable("locationId should not be empty"))
		return
	}
	_, aerr := s.customProvider(c, body.LocationID, func(_ *locStore, p map[string]any) (map[string]any, *apiError) {
		if p == nil {
			return nil, errNoCustomProvider
		}
		p["supportsSubscriptionSchedule"] = body.SupportsSubscriptionSchedules
		return p, nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"success": true}))
}
