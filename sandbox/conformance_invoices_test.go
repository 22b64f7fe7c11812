package sandbox_test

import (
	"net/http"

	"github.com/hlgate/hlgate/internal/specexample"
	"github.com/hlgate/hlgate/sandbox"
)

// invoiceActions drives the invoices' hand-written actions (sandbox/invoices.go)
// with bodies built from the document's examples: an invoice sent, paid and
// then refused a void, another voided and then refused a payment; a
// template's configurations; a schedule started, given its automatic
// payment, cancelled and then refused a start; text2pay, the next invoice
// number and the settings.
func (cf *conformance) invoiceActions(L, loc string, nextWindow func()) {
	t := cf.t
	t.Helper()
	body := func(method, path string) map[string]any {
		b, _ := located(specexample.Body(cf.doc.Paths.Value(path).GetOperation(method)), L).(map[string]any)
		if b == nil {
			t.Fatalf("%s %s: the document gives no example body", method, path)
		}
		return b
	}
	create := func(name, path string) string {
		id := createdID(cf.run(confCase{name: name, method: http.MethodPost, path: path, token: loc, status: 200, json: body(http.MethodPost, path)}))
		if id == "" {
			t.Fatalf("%s: no id", name)
		}
		return id
	}
	nextWindow()
	paid, voided := create("invoice to pay", "/invoices/"), create("invoice to void", "/invoices/")
	act := func(name, method, path, tmpl, id string, status int, change func(map[string]any)) {
		b := body(method, tmpl)
		if change != nil {
			change(b)
		}
		cf.run(confCase{name: name, method: method, path: path, token: loc, status: status, json: b})
	}
	inv := func(id, action string) string { return "/invoices/" + id + "/" + action }
	act("invoice late fees", http.MethodPatch, inv(paid, "late-fees-configuration"), "/invoices/{invoiceId}/late-fees-configuration", paid, 200, nil)
	act("send invoice", http.MethodPost, inv(paid, "send"), "/invoices/{invoiceId}/send", paid, 200, nil)
	act("send invoice, other location", http.MethodPost, inv(paid, "send"), "/invoices/{invoiceId}/send", paid, 403, func(b map[string]any) { b["altId"] = sandbox.OtherLocationID })
	act("record invoice payment", http.MethodPost, inv(paid, "record-payment"), "/invoices/{invoiceId}/record-payment", paid, 200, func(b map[string]any) { delete(b, "amount") })
	act("record invoice payment, paid", http.MethodPost, inv(paid, "record-payment"), "/invoices/{invoiceId}/record-payment", paid, 400, nil)
	act("void a paid invoice", http.MethodPost, inv(paid, "void"), "/invoices/{invoiceId}/void", paid, 400, nil)
	act("void invoice", http.MethodPost, inv(voided, "void"), "/invoices/{invoiceId}/void", voided, 200, nil)
	act("record payment, void", http.MethodPost, inv(voided, "record-payment"), "/invoices/{invoiceId}/record-payment", voided, 400, nil)
	act("send void invoice", http.MethodPost, inv(voided, "send"), "/invoices/{invoiceId}/send", voided, 400, nil)
	act("void unknown invoice", http.MethodPost, inv("nope", "void"), "/invoices/{invoiceId}/void", "", 404, nil)
	tx := cf.run(confCase{name: "the invoice's payment", method: http.MethodGet, path: "/payments/transactions?altId=" + L + "&altType=location&entityId=" + paid, token: loc, status: 200})
	if n, _ := tx["totalCount"].(float64); n != 1 {
		t.Errorf("transactions of the paid invoice: %v, want the one recorded", tx)
	}

	nextWindow()
	tmpl := create("invoice template to configure", "/invoices/template")
	act("template late fees", http.MethodPatch, "/invoices/template/"+tmpl+"/late-fees-configuration", "/invoices/template/{templateId}/late-fees-configuration", tmpl, 200, nil)
	act("template payment methods", http.MethodPatch, "/invoices/template/"+tmpl+"/payment-methods-configuration", "/invoices/template/{templateId}/payment-methods-configuration", tmpl, 200, nil)

	sched := create("invoice schedule to run", "/invoices/schedule")
	sp := func(action string) string { return "/invoices/schedule/" + sched + "/" + action }
	act("schedule schedule", http.MethodPost, sp("schedule"), "/invoices/schedule/{scheduleId}/schedule", sched, 200, nil)
	act("schedule auto-payment", http.MethodPost, sp("auto-payment"), "/invoices/schedule/{scheduleId}/auto-payment", sched, 200, func(b map[string]any) { b["id"] = sched })
	act("schedule auto-payment, other id", http.MethodPost, sp("auto-payment"), "/invoices/schedule/{scheduleId}/auto-payment", sched, 400, func(b map[string]any) { b["id"] = "Other" })
	cf.run(confCase{name: "update and schedule", method: http.MethodPost, path: sp("updateAndSchedule"), token: loc, status: 200})
	act("cancel schedule", http.MethodPost, sp("cancel"), "/invoices/schedule/{scheduleId}/cancel", sched, 200, nil)
	act("schedule a cancelled schedule", http.MethodPost, sp("schedule"), "/invoices/schedule/{scheduleId}/schedule", sched, 400, nil)

	nextWindow()
	est := createdID(cf.run(confCase{name: "estimate to send", method: http.MethodPost, path: "/invoices/estimate", token: loc, status: 201, json: body(http.MethodPost, "/invoices/estimate")}))
	act("send estimate", http.MethodPost, "/invoices/estimate/"+est+"/send", "/invoices/estimate/{estimateId}/send", est, 201, nil)
	act("invoice from estimate", http.MethodPost, "/invoices/estimate/"+est+"/invoice", "/invoices/estimate/{estimateId}/invoice", est, 200, func(b map[string]any) { b["markAsInvoiced"] = true })
	act("invoice from an invoiced estimate", http.MethodPost, "/invoices/estimate/"+est+"/invoice", "/invoices/estimate/{estimateId}/invoice", est, 400, nil)
	act("send an invoiced estimate", http.MethodPost, "/invoices/estimate/"+est+"/send", "/invoices/estimate/{estimateId}/send", est, 400, nil)
	cf.run(confCase{name: "next estimate number", method: http.MethodGet, path: "/invoices/estimate/number/generate?altId=" + L + "&altType=location", token: loc, status: 200})
	et := createdID(cf.run(confCase{name: "estimate template to preview", method: http.MethodPost, path: "/invoices/estimate/template", token: loc, status: 201, json: body(http.MethodPost, "/invoices/estimate/template")}))
	cf.run(confCase{name: "preview estimate template", method: http.MethodGet, path: "/invoices/estimate/template/preview?altId=" + L + "&altType=location&templateId=" + et, token: loc, status: 200})
	cf.run(confCase{name: "preview unknown template", method: http.MethodGet, path: "/invoices/estimate/template/preview?altId=" + L + "&altType=location&templateId=nope", token: loc, status: 404})

	nextWindow()
	act("text2pay", http.MethodPost, "/invoices/text2pay", "/invoices/text2pay", "", 200, func(b map[string]any) { delete(b, "id") })
	cf.run(confCase{name: "next invoice number", method: http.MethodGet, path: "/invoices/generate-invoice-number?altId=" + L + "&altType=location", token: loc, status: 200})
	cf.run(confCase{name: "invoice settings", method: http.MethodGet, path: "/invoices/settings?altId=" + L + "&altType=location", token: loc, status: 200})
	cf.run(confCase{name: "invoice settings, other location", method: http.MethodGet, path: "/invoices/settings?altId=" + sandbox.OtherLocationID + "&altType=location", token: loc, status: 403})
}
