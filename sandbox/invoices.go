package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Invoices, their templates and schedules are the engine's documents
// (POST /invoices/ creates in the collection /invoices, and so on). The
// handlers here change them as the invoices document describes, which no
// merge of the body does: an invoice is sent, voided or paid, a schedule
// scheduled or cancelled, a configuration set on an invoice or a template.
// Where the document is silent the sandbox takes the stricter reading,
// noted on each handler and in api/overlay.yaml.

// The engine's collections of invoices, invoice templates and invoice
// schedules.
const (
	collInvoices         = "/invoices"
	collInvoiceTemplates = "/invoices/template"
	collInvoiceSchedules = "/invoices/schedule"
	collEstimates        = "/invoices/estimate"
	collEstimateTmpls    = "/invoices/estimate/template"
)

// estimateTrace is the traceId the estimate answers carry.
const estimateTrace = "sandbox-estimate-trace"

// opGenerateEstimateNumber answers the number the location's next estimate
// takes (GET /invoices/estimate/number/generate): one more than the highest
// estimateNumber of its estimates.
func (s *Sandbox) opGenerateEstimateNumber(w http.ResponseWriter, r *http.Request, c *call) {
	if aerr := c.ownLocation(r.URL.Query().Get("altId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	highest := 0.0
	for _, raw := range l.coll(collEstimates, false).list() {
		var doc map[string]any
		if json.Unmarshal(raw, &doc) == nil {
			highest = max(highest, num(doc["estimateNumber"]))
		}
	}
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, marshal(map[string]any{"estimateNumber": highest + 1, "traceId": estimateTrace}))
}

// opSendEstimate sends an estimate (POST /invoices/estimate/{estimateId}/send):
// its estimateStatus becomes sent, and sentBy the sending user. An
// invoiced estimate is not sent again (the stricter reading). The answer
// is the estimate.
func (s *Sandbox) opSendEstimate(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := bodyLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	doc, aerr := s.editDoc(c, collEstimates, r.PathValue("estimateId"), "Estimate", func(_ *locStore, doc map[string]any) *apiError {
		if doc["estimateStatus"] == "invoiced" {
			return errBadRequest("Estimate is invoiced and cannot be sent")
		}
		doc["estimateStatus"] = "sent"
		doc["sentBy"] = body["userId"]
		if v, ok := body["estimateName"]; ok {
			doc["name"] = v
		}
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusCreated, marshal(doc))
}

// opInvoiceFromEstimate makes a draft invoice of an estimate's items (POST
// /invoices/estimate/{estimateId}/invoice); markAsInvoiced makes the
// estimate invoiced, and an invoiced estimate makes no second invoice (the
// stricter reading). The answer is the estimate and the invoice.
func (s *Sandbox) opInvoiceFromEstimate(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := bodyLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	var invoice map[string]any
	estimate, aerr := s.editDoc(c, collEstimates, r.PathValue("estimateId"), "Estimate", func(l *locStore, doc map[string]any) *apiError {
		if doc["estimateStatus"] == "invoiced" {
			return errBadRequest("Estimate is already invoiced")
		}
		total := invoiceTotal(doc["items"])
		invoice = map[string]any{
			"_id": l.newID(), "status": "draft", "liveMode": doc["liveMode"], "amountPaid": 0, "altId": l.id, "altType": "location",
			"name": doc["name"], "businessDetails": doc["businessDetails"], "invoiceNumber": l.nextInvoiceNumber(), "currency": doc["currency"],
			"contactDetails": doc["contactDetails"], "issueDate": fmtTime(now)[:10], "dueDate": fmtTime(now)[:10], "invoiceItems": doc["items"],
			"discount": doc["discount"], "total": total, "title": "INVOICE", "amountDue": total, "createdAt": fmtTime(now), "updatedAt": fmtTime(now),
			"totalSummary": map[string]any{"subTotal": total, "discount": 0, "tax": 0}, "estimateId": doc["_id"],
		}
		for k, v := range invoice {
			if v == nil {
				invoice[k] = map[string]any{}
			}
		}
		l.coll(collInvoices, true).put(invoice["_id"].(string), marshal(invoice))
		if body["markAsInvoiced"] == true {
			doc["estimateStatus"] = "invoiced"
		}
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"estimate": estimate, "invoice": invoice}))
}

// opPreviewEstimateTemplate answers one estimate template, named by the
// query's templateId (GET /invoices/estimate/template/preview).
func (s *Sandbox) opPreviewEstimateTemplate(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if aerr := c.ownLocation(q.Get("altId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	raw, ok := l.doc(collEstimateTmpls, q.Get("templateId"))
	var b []byte
	if ok {
		b = slices.Clone(raw)
	}
	l.mu.RUnlock()
	if !ok {
		writeError(w, errNotFound("Template not found"))
		return
	}
	writeBody(w, http.StatusOK, b)
}

// editDoc decodes a stored document of the token's location, lets edit
// change it and stores it again, all under the location's lock; an edit
// that answers an error leaves the document as it was. The document is
// "<noun> not found" (404) when absent.
func (s *Sandbox) editDoc(c *call, coll, id, noun string, edit func(l *locStore, doc map[string]any) *apiError) (map[string]any, *apiError) {
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	raw, ok := l.doc(coll, id)
	var doc map[string]any
	if !ok || json.Unmarshal(raw, &doc) != nil {
		return nil, errNotFound("%s not found", noun)
	}
	if aerr := edit(l, doc); aerr != nil {
		return nil, aerr
	}
	doc["updatedAt"] = fmtTime(s.now())
	l.coll(coll, true).put(id, marshal(doc))
	return doc, nil
}

// bodyLocation decodes a body and checks its altId is the token's location.
func bodyLocation(r *http.Request, c *call) (map[string]any, *apiError) {
	body, aerr := decodeObject(r)
	if aerr != nil {
		return nil, aerr
	}
	altID, _ := body["altId"].(string)
	if aerr := c.ownLocation(altID); aerr != nil {
		return nil, aerr
	}
	return body, nil
}

func num(v any) float64 { f, _ := v.(float64); return f }

// opSendInvoice sends an invoice (POST /invoices/{invoiceId}/send): a draft
// becomes sent; a void or paid invoice is not sent (the stricter reading).
// The answer is the invoice with what was sent by SMS and email, by the
// action.
func (s *Sandbox) opSendInvoice(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := bodyLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	doc, aerr := s.editDoc(c, collInvoices, r.PathValue("invoiceId"), "Invoice", func(_ *locStore, doc map[string]any) *apiError {
		switch doc["status"] {
		case "void", "paid":
			return errBadRequest("Invoice is %s and cannot be sent", doc["status"])
		case "draft":
			doc["status"] = "sent"
		}
		if sentFrom, ok := body["sentFrom"]; ok {
			doc["sentFrom"] = sentFrom
		}
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	action, _ := body["action"].(string)
	sms, email := map[string]any{}, map[string]any{}
	if strings.Contains(action, "sms") {
		sms["sent"] = true
	}
	if strings.Contains(action, "email") {
		email["sent"] = true
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"invoice": doc, "smsData": sms, "emailData": email}))
}

// opVoidInvoice voids an invoice (POST /invoices/{invoiceId}/void). An
// invoice with a payment recorded, or already void, is not voided (the
// stricter reading). The answer is the invoice.
func (s *Sandbox) opVoidInvoice(w http.ResponseWriter, r *http.Request, c *call) {
	if _, aerr := bodyLocation(r, c); aerr != nil {
		writeError(w, aerr)
		return
	}
	doc, aerr := s.editDoc(c, collInvoices, r.PathValue("invoiceId"), "Invoice", func(_ *locStore, doc map[string]any) *apiError {
		switch {
		case doc["status"] == "void":
			return errBadRequest("Invoice is already void")
		case num(doc["amountPaid"]) > 0:
			return errBadRequest("Invoice has a payment recorded and cannot be voided")
		}
		doc["status"] = "void"
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(doc))
}

// opRecordInvoicePayment records a manual payment of an invoice (POST
// /invoices/{invoiceId}/record-payment): without an amount it pays the
// amount due; an amount above what is due, or a payment of a void or paid
// invoice, is refused. The invoice's amountPaid and amountDue move, its
// status becomes paid or partially_paid, and the payment is a succeeded
// transaction whose entity is the invoice (GET
// /payments/transactions?entityId=<invoiceId>).
func (s *Sandbox) opRecordInvoicePayment(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := bodyLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	id := r.PathValue("invoiceId")
	now := s.now().UTC()
	doc, aerr := s.editDoc(c, collInvoices, id, "Invoice", func(l *locStore, doc map[string]any) *apiError {
		switch doc["status"] {
		case "void", "paid":
			return errBadRequest("Invoice is %s and takes no payment", doc["status"])
		}
		due := num(doc["amountDue"])
		amount, given := body["amount"].(float64)
		if !given {
			amount = due
		}
		switch {
		case amount <= 0:
			return errBadRequest("amount must be a positive number")
		case amount > due:
			return errBadRequest("amount must be at most the amount due (%g)", due)
		}
		doc["amountPaid"] = num(doc["amountPaid"]) + amount
		doc["amountDue"] = due - amount
		doc["status"] = "partially_paid"
		if due-amount == 0 {
			doc["status"] = "paid"
		}
		contact, _ := doc["contactDetails"].(map[string]any)
		ctID, _ := contact["id"].(string)
		ctName, _ := contact["name"].(string)
		ctEmail, _ := contact["email"].(string)
		currency, _ := doc["currency"].(string)
		live, _ := doc["liveMode"].(bool)
		name, _ := doc["name"].(string)
		tx := &Transaction{
			ID: l.newID(), AltID: l.id, AltType: "location", ContactID: ctID, ContactName: ctName, ContactEmail: ctEmail,
			Currency: currency, Amount: amount, Status: "succeeded", LiveMode: live, EntityType: "invoice", EntityID: id,
			EntitySourceType: "invoice", EntitySourceName: name, EntitySourceID: id, ChargeID: "manual_" + fmt.Sprint(body["mode"]),
			PaymentProviderType: "manual", created: now,
		}
		tx.CreatedAt, tx.UpdatedAt, tx.FulfilledAt = fmtTime(now), fmtTime(now), fmtTime(now)
		if v, ok := body["fulfilledAt"].(string); ok {
			tx.FulfilledAt = v
		}
		l.transactions[tx.ID] = tx
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"success": true, "invoice": doc}))
}

// invoiceTotal is the sum of the items' amount × qty.
func invoiceTotal(items any) float64 {
	list, _ := items.([]any)
	total := 0.0
	for _, it := range list {
		m, _ := it.(map[string]any)
		total += num(m["amount"]) * num(m["qty"])
	}
	return total
}

// opText2Pay creates an invoice and sends it (POST /invoices/text2pay), or,
// given the id of a draft of the location, replaces that draft's members
// and sends it; the action draft keeps it a draft instead. The invoice's total is its items' amount × qty, all due.
// The answer is the invoice and its preview url.
func (s *Sandbox) opText2Pay(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := bodyLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	fill := func(doc map[string]any) {
		for k, v := range body {
			if k != "id" && k != "action" && k != "userId" && k != "items" {
				doc[k] = v
			}
		}
		doc["invoiceItems"] = body["items"]
		total := invoiceTotal(body["items"])
		doc["total"], doc["amountDue"], doc["amountPaid"], doc["status"] = total, total, 0, "sent"
		if body["action"] == "draft" {
			doc["status"] = "draft"
		}
		doc["totalSummary"] = map[string]any{"subTotal": total, "discount": 0, "tax": 0}
		if _, ok := doc["dueDate"]; !ok {
			doc["dueDate"] = doc["issueDate"]
		}
		if _, ok := doc["title"]; !ok {
			doc["title"] = "INVOICE"
		}
		if _, ok := doc["businessDetails"]; !ok {
			doc["businessDetails"] = map[string]any{}
		}
	}
	var doc map[string]any
	if id, _ := body["id"].(string); id != "" {
		doc, aerr = s.editDoc(c, collInvoices, id, "Invoice", func(_ *locStore, doc map[string]any) *apiError {
			if doc["status"] != "draft" {
				return errBadRequest("Invoice is %s; only a draft is updated by text2pay", doc["status"])
			}
			fill(doc)
			return nil
		})
		if aerr != nil {
			writeError(w, aerr)
			return
		}
	} else {
		l := s.tokenStore(c)
		l.mu.Lock()
		doc = map[string]any{"_id": l.newID(), "invoiceNumber": l.nextInvoiceNumber(), "createdAt": fmtTime(now), "updatedAt": fmtTime(now)}
		fill(doc)
		l.coll(collInvoices, true).put(doc["_id"].(string), marshal(doc))
		l.mu.Unlock()
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"invoice": doc, "invoiceUrl": "https://sandbox.invalid/invoice/" + doc["_id"].(string)}))
}

// nextInvoiceNumber is one more than the highest number of the location's
// invoices (1 for the first). Callers hold l.mu.
func (l *locStore) nextInvoiceNumber() float64 {
	highest := 0.0
	for _, raw := range l.coll(collInvoices, false).list() {
		var doc map[string]any
		if json.Unmarshal(raw, &doc) == nil {
			highest = max(highest, num(doc["invoiceNumber"]))
		}
	}
	return highest + 1
}

// opGenerateInvoiceNumber answers the number the location's next invoice
// takes (GET /invoices/generate-invoice-number).
func (s *Sandbox) opGenerateInvoiceNumber(w http.ResponseWriter, r *http.Request, c *call) {
	if aerr := c.ownLocation(r.URL.Query().Get("altId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	n := l.nextInvoiceNumber()
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, marshal(map[string]any{"invoiceNumber": n}))
}

// opGetInvoiceSettings answers the location's invoice settings (GET
// /invoices/settings): the defaults of a location that changed none.
func (s *Sandbox) opGetInvoiceSettings(w http.ResponseWriter, r *http.Request, c *call) {
	if aerr := c.ownLocation(r.URL.Query().Get("altId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	writeBody(w, http.StatusOK, marshal(map[string]any{
		"altId": l.id, "altType": "location", "title": "INVOICE", "estimatesTitle": "ESTIMATE",
		"invoiceNumberPrefix": "INV-", "estimateNumberPrefix": "EST-", "dueAfterXDays": 30, "estimatesExpireAfterXDays": 30,
		"termsNote": "", "estimatesTermsNote": "", "minimumPercentagePartialPayment": 0, "customFields": []any{},
		"businessDetails": map[string]any{"name": l.name, "address": map[string]any{"addressLine1": l.address}},
	}))
}

// configure sets one configuration member (lateFeesConfiguration,
// paymentMethods) of an invoice or a template from a PATCH's body; the
// answer is the invoice or template.
func configure(coll, param, noun, member string) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		body, aerr := bodyLocation(r, c)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		doc, aerr := s.editDoc(c, coll, r.PathValue(param), noun, func(_ *locStore, doc map[string]any) *apiError {
			if doc["status"] == "void" || doc["status"] == "paid" {
				return errBadRequest("%s is %s and cannot be configured", noun, doc["status"])
			}
			if v, ok := body[member]; ok {
				doc[member] = v
			}
			return nil
		})
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		writeBody(w, http.StatusOK, marshal(doc))
	}
}

// scheduleAction changes an invoice schedule (POST
// /invoices/schedule/{scheduleId}/<action>): schedule and updateAndSchedule
// start it (status scheduled), auto-payment sets its autoPayment (the
// body's id must be the path's schedule), cancel stops it (status
// cancelled). A cancelled schedule takes no further action (the stricter
// reading). updateAndSchedule has no body, so it names no location: the
// schedule is looked up in the token's. The answer is the schedule.
func scheduleAction(action string) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		body := map[string]any{}
		if action != "updateAndSchedule" {
			var aerr *apiError
			if body, aerr = bodyLocation(r, c); aerr != nil {
				writeError(w, aerr)
				return
			}
		}
		id := r.PathValue("scheduleId")
		if v, ok := body["id"].(string); action == "auto-payment" && (!ok || v != id) {
			writeError(w, errBadRequest("id must be the schedule's id %s", id))
			return
		}
		doc, aerr := s.editDoc(c, collInvoiceSchedules, id, "Schedule", func(_ *locStore, doc map[string]any) *apiError {
			if doc["status"] == "cancelled" {
				return errBadRequest("Schedule is cancelled")
			}
			switch action {
			case "schedule", "updateAndSchedule":
				doc["status"] = "scheduled"
				if v, ok := body["liveMode"]; ok {
					doc["liveMode"] = v
				}
				if v, ok := body["autoPayment"]; ok {
					doc["autoPayment"] = v
				}
			case "auto-payment":
				doc["autoPayment"] = body["autoPayment"]
			case "cancel":
				doc["status"] = "cancelled"
			}
			return nil
		})
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		writeBody(w, http.StatusOK, marshal(maps.Clone(doc)))
	}
}
