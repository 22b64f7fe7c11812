package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The last JSON operations with behaviour of their own: the conversations'
// custom subtypes and a contact's subscriptions, a call's attachments, the
// time zones, the search of the contacts' tasks, an order's fulfillments
// and notes, the invoices' and estimates' last-visited stamps and the
// agency's users by email. Where the document gives an answer no schema,
// the answer here is an assumption, named at each handler; hlgate keeps
// whatever HighLevel answers in unmapped, so another shape loses nothing.

// Engine collections of the preferences.
const (
	collCustomSubtypes   = "/conversations/preferences/custom-subtypes"
	collSubscriptions    = "/conversations/preferences/unsubscriptions"
	defaultSubtypeOneOne = "One on One"
)

// opListCustomSubtypes answers GET /conversations/preferences/custom-subtypes:
// the location's custom subtypes, as POST creates them (the engine's
// collection). The answer has no schema; assumed {customSubtypes: [...]},
// the path's resource as HighLevel names its lists' members.
func (s *Sandbox) opListCustomSubtypes(w http.ResponseWriter, r *http.Request, c *call) {
	if aerr := c.ownLocation(r.URL.Query().Get("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	docs := l.coll(collCustomSubtypes, false).list()
	l.mu.RUnlock()
	if docs == nil {
		docs = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customSubtypes": docs})
}

// subscriptionDoc is what the sandbox keeps of one email of a contact: the
// status of each subtype a change named ("One on One", or a custom
// subtype's id). A subtype never changed is subscribed.
type subscriptionDoc struct {
	ID        string            `json:"id"`
	ContactID string            `json:"contactId"`
	Email     string            `json:"email"`
	Statuses  map[string]string `json:"statuses"`
}

// subscriptionKey is the document id of a contact's email.
func subscriptionKey(contactID, email string) string {
	return contactID + ":" + strings.ToLower(email)
}

// contactEmail checks that contactID is a contact of the location and
// email (when given) one of its: the stricter reading, since the document
// says the statuses are "for a contact". It returns the emails to answer.
// Callers hold l.mu.
func (l *locStore) contactEmail(contactID, email string) ([]string, *apiError) {
	ct := l.contacts[contactID]
	if ct == nil {
		return nil, errNotFound("Contact not found")
	}
	if email == "" {
		if ct.Email == "" {
			return []string{}, nil
		}
		return []string{ct.Email}, nil
	}
	if !strings.EqualFold(email, ct.Email) {
		return nil, errBadRequest("email %s is not the contact's", email)
	}
	return []string{ct.Email}, nil
}

// subscriptionsOf is one email's statuses as answered: the default subtype
// and each of the location's custom subtypes of the email channel, with
// its status. Callers hold l.mu.
func (l *locStore) subscriptionsOf(contactID, email string) map[string]any {
	var doc subscriptionDoc
	if raw, ok := l.doc(collSubscriptions, subscriptionKey(contactID, email)); ok {
		_ = json.Unmarshal(raw, &doc) // written by this file
	}
	status := func(key string) string {
		if st, ok := doc.Statuses[key]; ok {
			return st
		}
		return "subscribed"
	}
	subs := []map[string]any{{"type": "default", "subtype_name": defaultSubtypeOneOne, "subtype_status": status(defaultSubtypeOneOne)}}
	for _, raw := range l.coll(collCustomSubtypes, false).list() {
		var st map[string]any
		if json.Unmarshal(raw, &st) != nil || st["channel"] != "email" || st["archived"] == true {
			continue
		}
		id, _ := st["id"].(string)
		subs = append(subs, map[string]any{"type": "custom", "subtype_id": id, "subtype_name": st["name"], "subtype_status": status(id)})
	}
	return map[string]any{"email": email, "subscriptions": subs}
}

// opUnsubscriptionStatus answers GET
// /conversations/preferences/unsubscriptions/status: a contact's email (or
// each of its emails) with the status of every subtype. The answer has no
// schema; assumed {contactId, emails: [{email, subscriptions: [{type,
// subtype_name, subtype_id, subtype_status}]}]}, the members of the change's
// SubscriptionActionDto.
func (s *Sandbox) opUnsubscriptionStatus(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if aerr := c.ownLocation(q.Get("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	emails, aerr := l.contactEmail(q.Get("contactId"), q.Get("email"))
	out := []map[string]any{}
	for _, e := range emails {
		out = append(out, l.subscriptionsOf(q.Get("contactId"), e))
	}
	l.mu.RUnlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contactId": q.Get("contactId"), "emails": out})
}

// opUserSubscriptionChange answers POST
// /conversations/preferences/unsubscriptions/user-change: a user changes
// one subtype of a contact's email (default: "One on One"; custom: a
// custom subtype of the location's, by id) or resubscribes it to all.
// Refused, the stricter reading of the document's descriptions: a custom
// change without subtype_id or naming no subtype of the location, a
// default change without subtype_name, resub_all with unsubscribed, and a
// resubscribe (custom subscribed, resub_all) without legal_reason. The
// answer has no schema; assumed the email's statuses after the change, as
// the status read answers one email.
func (s *Sandbox) opUserSubscriptionChange(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		LocationID  string `json:"locationId"`
		ContactID   string `json:"contactId"`
		Email       string `json:"email"`
		LegalReason string `json:"legal_reason"`
		LegalDesc   string `json:"legal_description"`
		Action      struct {
			Type          string `json:"type"`
			SubtypeName   string `json:"subtype_name"`
			SubtypeID     string `json:"subtype_id"`
			SubtypeStatus string `json:"subtype_status"`
		} `json:"subscription_action"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body.LocationID); aerr != nil {
		writeError(w, aerr)
		return
	}
	a := body.Action
	resub := a.Type == "resub_all" || a.Type == "custom" && a.SubtypeStatus == "subscribed"
	switch {
	case a.Type == "default" && a.SubtypeName == "":
		writeError(w, errUnprocessable("subscription_action.subtype_name is required for a default type"))
		return
	case a.Type == "custom" && a.SubtypeID == "":
		writeError(w, errUnprocessable("subscription_action.subtype_id is required for a custom type"))
		return
	case a.Type == "resub_all" && a.SubtypeStatus != "subscribed":
		writeError(w, errUnprocessable("subscription_action.subtype_status must be subscribed for resub_all"))
		return
	case resub && strings.TrimSpace(body.LegalReason) == "":
		writeError(w, errUnprocessable("legal_reason is required for a resubscribe"))
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, aerr := l.contactEmail(body.ContactID, body.Email); aerr != nil {
		writeError(w, aerr)
		return
	}
	if a.Type == "custom" {
		if _, ok := l.doc(collCustomSubtypes, a.SubtypeID); !ok {
			writeError(w, errNotFound("Custom subtype not found"))
			return
		}
	}
	key := subscriptionKey(body.ContactID, body.Email)
	doc := subscriptionDoc{ID: key, ContactID: body.ContactID, Email: strings.ToLower(body.Email), Statuses: map[string]string{}}
	if raw, ok := l.doc(collSubscriptions, key); ok {
		_ = json.Unmarshal(raw, &doc) // written by this file
	}
	switch a.Type {
	case "default":
		doc.Statuses[a.SubtypeName] = a.SubtypeStatus
	case "custom":
		doc.Statuses[a.SubtypeID] = a.SubtypeStatus
	case "resub_all":
		doc.Statuses = map[string]string{}
	}
	l.coll(collSubscriptions, true).put(key, marshal(doc))
	writeJSON(w, http.StatusCreated, l.subscriptionsOf(body.ContactID, body.Email))
}

// opAddMessageAttachments answers PUT
// /conversations/messages/{messageId}/attachments: the message's
// attachments become the body's (replaced, at most five: the validator
// holds the overlay's maxItems), for TYPE_CUSTOM_CALL and for TYPE_CALL
// with subType EXTERNAL_CALL only (403 otherwise, the document's). The
// answer is empty.
func (s *Sandbox) opAddMessageAttachments(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		Attachments []string `json:"attachments"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	for i, u := range body.Attachments {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			writeError(w, errUnprocessable(fmt.Sprintf("attachments.%d must be a URL address", i)))
			return
		}
	}
	id := r.PathValue("messageId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	msg, ok := l.getDoc(collMessages, id)
	if !ok {
		writeError(w, errNotFound("Message not found"))
		return
	}
	if t := msg["messageType"]; t != "TYPE_CUSTOM_CALL" && (t != "TYPE_CALL" || msg["subType"] != "EXTERNAL_CALL") {
		writeError(w, errForbidden("Message type does not support attachment updates"))
		return
	}
	msg["attachments"] = body.Attachments
	l.coll(collMessages, true).put(id, marshal(msg))
	writeEmpty(w)
}

// writeEmpty answers an object without members: the answer of an
// operation whose document declares none (EmptyAnswerDto). HighLevel may
// send nothing at all, which hlgate takes as the same empty answer; the
// sandbox sends {} so that its answer validates against the slice.
func writeEmpty(w http.ResponseWriter) { writeBody(w, http.StatusOK, []byte("{}")) }

// sandboxTimezones are the time zones GET /locations/{locationId}/timezones
// answers: the seeded locations' and a few more.
var sandboxTimezones = []string{
	"America/Chicago", "America/Denver", "America/Los_Angeles", "America/New_York", "America/Phoenix",
	"Asia/Kolkata", "Australia/Sydney", "Europe/Berlin", "Europe/London", "Europe/Oslo", "UTC",
}

// opGetTimezones answers GET /locations/{locationId}/timezones. The answer
// has no schema; assumed {timeZones: [...]}, IANA names, as a location's
// timezone member takes them.
func (s *Sandbox) opGetTimezones(w http.ResponseWriter, r *http.Request, c *call) {
	if aerr := c.ownLocation(r.PathValue("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"timeZones": sandboxTimezones})
}

// opTaskSearch answers POST /locations/{locationId}/tasks/search: the tasks
// of the location's contacts (each contact's engine collection
// /contacts/{contactId}/tasks), in contact id order and then in the order
// they were made, filtered by the body (contactId and assignedTo: any of
// the ids; completed; businessId: the contact's business; query: a
// case-insensitive part of the title or body), then skip and limit
// (default 25).
func (s *Sandbox) opTaskSearch(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		ContactID  []string `json:"contactId"`
		Completed  *bool    `json:"completed"`
		AssignedTo []string `json:"assignedTo"`
		Query      string   `json:"query"`
		Limit      *float64 `json:"limit"`
		Skip       *float64 `json:"skip"`
		BusinessID string   `json:"businessId"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(r.PathValue("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	limit, skip := 25, 0
	var p problems
	if body.Limit != nil {
		if *body.Limit != float64(int(*body.Limit)) || *body.Limit < 1 {
			p.add("limit must be a positive integer")
		}
		limit = int(*body.Limit)
	}
	if body.Skip != nil {
		if *body.Skip != float64(int(*body.Skip)) || *body.Skip < 0 {
			p.add("skip must not be less than 0")
		}
		skip = int(*body.Skip)
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	query := strings.ToLower(body.Query)
	l := s.tokenStore(c)
	l.mu.RLock()
	var contactIDs []string
	for id, ct := range l.contacts {
		if len(body.ContactID) > 0 && !slices.Contains(body.ContactID, id) || body.BusinessID != "" && ct.BusinessID != body.BusinessID {
			continue
		}
		contactIDs = append(contactIDs, id)
	}
	slices.Sort(contactIDs)
	var hits []json.RawMessage
	for _, id := range contactIDs {
		for _, raw := range l.coll("/contacts/"+id+"/tasks", false).list() {
			var t struct {
				Title      string `json:"title"`
				Body       string `json:"body"`
				AssignedTo string `json:"assignedTo"`
				Completed  bool   `json:"completed"`
			}
			if json.Unmarshal(raw, &t) != nil {
				continue
			}
			switch {
			case body.Completed != nil && t.Completed != *body.Completed,
				len(body.AssignedTo) > 0 && !slices.Contains(body.AssignedTo, t.AssignedTo),
				query != "" && !strings.Contains(strings.ToLower(t.Title), query) && !strings.Contains(strings.ToLower(t.Body), query):
				continue
			}
			hits = append(hits, withMember(raw, "contactId", id))
		}
	}
	l.mu.RUnlock()
	hits = hits[min(skip, len(hits)):]
	hits = hits[:min(limit, len(hits))]
	if hits == nil {
		hits = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": hits})
}

// withMember is a stored document with one member set (a task with the
// contact it belongs to), or the document as it is if it is not an
// object.
func withMember(raw json.RawMessage, name, value string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	m[name] = marshal(value)
	return marshal(m)
}

// seedOrderItems are a seeded order's items: its TotalProducts lines, each
// a price of a product with a quantity of 1 to 3, priced so that the lines
// sum to its amount. They draw from a generator of their own (the order's
// index), so the rest of the seed is what it was without them.
func seedOrderItems(o *Order, i int) []OrderItem {
	g := gen{r: rand.New(rand.NewPCG(uint64(i), 0x17e35))}
	items := make([]OrderItem, 0, o.TotalProducts)
	names := []string{"Whitening Kit", "Night Guard", "Electric Toothbrush", "Floss Pack"}
	for k := range o.TotalProducts {
		it := OrderItem{ID: g.id(), PriceID: g.id(), ProductID: g.id(), ProductName: names[(i+k)%len(names)], Qty: 1 + g.r.IntN(3)}
		it.Name = it.ProductName
		it.Amount = o.Amount / float64(o.TotalProducts) / float64(it.Qty)
		items = append(items, it)
	}
	return items
}

// itemJSON is an order line as the documents answer it: the order's item
// (GetOrderResponseSchema's example, its own _id) and a fulfillment's
// FulfilledItem (_id "the id of product price"), qty its own.
func (l *locStore) itemJSON(o *Order, it OrderItem, id string, qty int) map[string]any {
	return map[string]any{
		"_id": id, "name": it.Name, "qty": qty,
		"product": map[string]any{"_id": it.ProductID, "locationId": l.id, "name": it.ProductName, "productType": "PHYSICAL",
			"createdAt": o.CreatedAt, "updatedAt": o.CreatedAt},
		"price": map[string]any{"_id": it.PriceID, "name": it.Name, "type": "one_time", "currency": o.Currency, "amount": it.Amount},
	}
}

// fulfillmentsKey is the engine collection of an order's fulfillments.
func fulfillmentsKey(orderID string) string { return "/payments/orders/" + orderID + "/fulfillments" }

// fulfilled is how many of each price an order's fulfillments took.
// Callers hold l.mu.
func (l *locStore) fulfilled(orderID string) map[string]int {
	out := map[string]int{}
	for _, raw := range l.coll(fulfillmentsKey(orderID), false).list() {
		var f struct {
			Items []struct {
				ID  string `json:"_id"`
				Qty int    `json:"qty"`
			} `json:"items"`
		}
		if json.Unmarshal(raw, &f) == nil {
			for _, it := range f.Items {
				out[it.ID] += it.Qty
			}
		}
	}
	return out
}

// opCreateFulfillment answers POST /payments/orders/{orderId}/fulfillments:
// items of the order (by priceId) leave with their trackings. Refused, the
// stricter reading: an item the order lacks, a quantity that is not a
// positive whole number or more than the order holds less what earlier
// fulfillments took, no item, and a cancelled order. The order's
// fulfillmentStatus becomes fulfilled once every item is, else
// partially_fulfilled.
func (s *Sandbox) opCreateFulfillment(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		AltID     string           `json:"altId"`
		AltType   string           `json:"altType"`
		Trackings []map[string]any `json:"trackings"`
		Items     []struct {
			PriceID string  `json:"priceId"`
			Qty     float64 `json:"qty"`
		} `json:"items"`
		NotifyCustomer bool `json:"notifyCustomer"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body.AltID); aerr != nil {
		writeError(w, aerr)
		return
	}
	if len(body.Items) == 0 {
		writeError(w, errUnprocessable("items must contain at least 1 element"))
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.orders[r.PathValue("orderId")]
	if !ok {
		writeError(w, errBadRequest("Order not found")) // as get-order answers an unknown order
		return
	}
	if o.Status == "cancelled" {
		writeError(w, errBadRequest("Order is cancelled"))
		return
	}
	done := l.fulfilled(o.ID)
	want := map[string]int{}
	for i, it := range body.Items {
		if it.Qty < 1 || it.Qty != float64(int(it.Qty)) {
			writeError(w, errUnprocessable(fmt.Sprintf("items.%d.qty must be a positive whole number", i)))
			return
		}
		want[it.PriceID] += int(it.Qty)
	}
	var lines []map[string]any
	complete := true
	for _, it := range o.Items {
		n := want[it.PriceID]
		if left := it.Qty - done[it.PriceID]; n > left {
			writeError(w, errUnprocessable(fmt.Sprintf("item %s: %d to fulfil, but only %d of %d left unfulfilled", it.PriceID, n, left, it.Qty)))
			return
		}
		if n > 0 {
			lines = append(lines, l.itemJSON(o, it, it.PriceID, n))
		}
		complete = complete && done[it.PriceID]+n == it.Qty
		delete(want, it.PriceID)
	}
	for id := range want {
		writeError(w, errUnprocessable(fmt.Sprintf("item %s is not an item of the order", id)))
		return
	}
	now := fmtTime(s.now())
	trackings := body.Trackings
	if trackings == nil {
		trackings = []map[string]any{}
	}
	doc := map[string]any{"_id": l.newID(), "altId": l.id, "altType": "location", "trackings": trackings,
		"items": lines, "createdAt": now, "updatedAt": now}
	l.coll(fulfillmentsKey(o.ID), true).put(doc["_id"].(string), marshal(doc))
	o.FulfillmentStatus = "partially_fulfilled"
	if complete {
		o.FulfillmentStatus = "fulfilled"
	}
	o.UpdatedAt = now
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "data": doc})
}

// orderList answers a list of an order's records kept in the engine
// collection the order's id names (its fulfillments, its notes), in the
// order they were made, as {status, data}: the fulfillments' documented
// answer, which the notes' (no schema in the document) are assumed to share.
func orderList(collection func(orderID string) string) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		l, aerr := s.altLocation(c, r.URL.Query(), true)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		id := r.PathValue("orderId")
		l.mu.RLock()
		_, ok := l.orders[id]
		docs := l.coll(collection(id), false).list()
		l.mu.RUnlock()
		if !ok {
			writeError(w, errBadRequest("Order not found"))
			return
		}
		if docs == nil {
			docs = []json.RawMessage{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": true, "data": docs})
	}
}

// orderNotesKey is the engine collection of an order's notes (PutDocument).
func orderNotesKey(orderID string) string { return "/payments/orders/" + orderID + "/notes" }

// lastVisited answers PATCH /invoices/stats/last-visited-at and its
// estimate's: the record of the token's location named by the body's
// member idKey gets lastVisitedAt now (404 for a record the location does
// not have). The answer has no schema; it is empty here.
func lastVisited(coll, idKey, noun string) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		body, aerr := strictBody(r, c)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		id, _ := body[idKey].(string)
		if _, aerr := s.editDoc(c, coll, id, noun, func(_ *locStore, doc map[string]any) *apiError {
			doc["lastVisitedAt"] = fmtTime(s.now())
			return nil
		}); aerr != nil {
			writeError(w, aerr)
			return
		}
		writeEmpty(w)
	}
}

// opFilterUsersByEmail answers POST /users/search/filter-by-email, for a
// company's token: the users of the company's locations (each location's
// engine collection /users, one user once however many locations it is
// in) whose email is one of the comma-separated emails (compared without
// case), deleted ones only with deleted true, in id order, then skip and
// limit (strings upstream: "0" and "25" by default). The projection "all"
// answers every member; by default, or with a list of members, a user is
// its id and email (and the members named).
func (s *Sandbox) opFilterUsersByEmail(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		CompanyID  string `json:"companyId"`
		Emails     string `json:"emails"`
		Deleted    bool   `json:"deleted"`
		Skip       string `json:"skip"`
		Limit      string `json:"limit"`
		Projection string `json:"projection"`
	}
	if aerr := decodeBody(r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := agencyCall(c, body.CompanyID); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	skip, limit := 0, 25
	if body.Skip != "" {
		n, err := strconv.Atoi(body.Skip)
		if err != nil || n < 0 {
			p.add("skip must be a number string not less than 0")
		}
		skip = n
	}
	if body.Limit != "" {
		n, err := strconv.Atoi(body.Limit)
		if err != nil || n < 1 {
			p.add("limit must be a number string not less than 1")
		}
		limit = n
	}
	wanted := map[string]bool{}
	for _, e := range strings.Split(body.Emails, ",") {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			wanted[e] = true
		}
	}
	if len(wanted) == 0 {
		p.add("emails must name at least one email address")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	users := map[string]map[string]any{}
	for _, id := range s.companyLocationIDs() {
		l, ok := s.loc(id)
		if !ok || l.companyID != c.tok.companyID {
			continue
		}
		l.mu.RLock()
		for _, raw := range l.coll("/users", false).list() {
			var u map[string]any
			if json.Unmarshal(raw, &u) != nil {
				continue
			}
			email, _ := u["email"].(string)
			uid, _ := u["id"].(string)
			if uid == "" || !wanted[strings.ToLower(email)] || u["deleted"] == true && !body.Deleted {
				continue
			}
			users[uid] = u
		}
		l.mu.RUnlock()
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range users {
			if !yield(id) {
				return
			}
		}
	})
	total := len(ids)
	ids = ids[min(skip, len(ids)):]
	ids = ids[:min(limit, len(ids))]
	keep := []string{"id", "email"}
	if body.Projection != "" && body.Projection != "all" {
		for _, f := range strings.Split(body.Projection, ",") {
			keep = append(keep, strings.TrimSpace(f))
		}
	}
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		u := users[id]
		if body.Projection != "all" {
			v := map[string]any{}
			for _, k := range keep {
				if x, ok := u[k]; ok {
					v[k] = x
				}
			}
			u = v
		}
		out = append(out, u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "count": total})
}
