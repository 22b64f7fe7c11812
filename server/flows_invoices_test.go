package server

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// newTestInvoiceRequest is a draft invoice of one 250 USD item.
func newTestInvoiceRequest(location, name string) *hlgatev1.CreateInvoiceRequest {
	return &hlgatev1.CreateInvoiceRequest{LocationId: location, AltType: proto.String("location"), Name: proto.String(name),
		BusinessDetails: &hlgatev1.BusinessDetailsDto{Name: proto.String("Acme")}, Currency: proto.String("USD"),
		Items:          []*hlgatev1.InvoiceItemDto{{Name: proto.String("Setup"), Currency: proto.String("USD"), Amount: proto.Float64(250), Qty: proto.Float64(1)}},
		Discount:       &hlgatev1.DiscountDto{Type: proto.String("percentage"), Value: proto.Float64(0)},
		ContactDetails: &hlgatev1.ContactDetailsDto{Id: proto.String("Contact0000000000001"), Name: proto.String("Alex"), PhoneNo: proto.String("+15550100"), Email: proto.String("alex@example.com")},
		IssueDate:      proto.String("2026-12-01"), SentTo: &hlgatev1.SentToDto{Email: []string{"alex@example.com"}}, LiveMode: proto.Bool(false)}
}

// newTestInvoice creates a draft invoice of one 250 USD item.
func newTestInvoice(t *testing.T, h *harness, inv hlgatev1.InvoicesServiceClient, name string) *hlgatev1.CreateInvoiceResponse {
	t.Helper()
	r, err := inv.CreateInvoice(h.ctx(""), newTestInvoiceRequest(sandbox.DemoLocationID, name))
	if err != nil || r.GetId() == "" {
		t.Fatalf("CreateInvoice(%s) = %v, %v", name, r, err)
	}
	return r
}

// An invoice's actions over gRPC and REST: sent, paid in two parts (each a
// transaction of the invoice) and then refused a void; another voided and
// then refused a payment and a send; late fees set on an invoice and on a
// template, and a template's payment methods; text2pay, the next number
// and the settings.
func TestInvoiceActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	inv := hlgatev1.NewInvoicesServiceClient(h.conn)
	base := "/v1/locations/" + loc + "/invoices/"

	first := newTestInvoice(t, h, inv, "first")
	due := first.GetAmountDue()
	if due <= 0 {
		t.Fatalf("a new invoice owes %v", due)
	}
	fees := &hlgatev1.LateFeesConfigurationDto{Enable: proto.Bool(true), Value: proto.Float64(10), Type: proto.String("fixed"),
		Frequency: &hlgatev1.LateFeesFrequencyDto{IntervalCount: proto.Float64(1), Interval: proto.String("day")}}
	lf, err := inv.UpdateInvoiceLateFeesConfiguration(ctx, &hlgatev1.UpdateInvoiceLateFeesConfigurationRequest{LocationId: loc, InvoiceId: first.GetId(),
		AltType: proto.String("location"), LateFeesConfiguration: fees})
	if err != nil || lf.GetId() != first.GetId() {
		t.Fatalf("UpdateInvoiceLateFeesConfiguration = %v, %v", lf, err)
	}
	if g, err := inv.GetInvoice(ctx, &hlgatev1.GetInvoiceRequest{LocationId: loc, InvoiceId: first.GetId()}); err != nil ||
		g.GetUnmapped().AsMap()["lateFeesConfiguration"].(map[string]any)["value"] != 10.0 {
		t.Fatalf("GetInvoice after late fees = %v, %v", g, err)
	}
	sent, err := inv.SendInvoice(ctx, &hlgatev1.SendInvoiceRequest{LocationId: loc, InvoiceId: first.GetId(), AltType: proto.String("location"),
		UserId: proto.String("User00000000000001"), Action: proto.String("email"), LiveMode: proto.Bool(false)})
	if err != nil || sent.GetInvoice().GetStatus() != "sent" || sent.GetEmailData().AsMap()["sent"] != true {
		t.Fatalf("SendInvoice = %v, %v", sent, err)
	}
	paid, err := inv.RecordInvoice(ctx, &hlgatev1.RecordInvoiceRequest{LocationId: loc, InvoiceId: first.GetId(), AltType: proto.String("location"),
		Mode: proto.String("cash"), Card: &hlgatev1.InvoicesCardDto{Brand: proto.String("visa"), Last4: proto.String("4242")},
		Cheque: &hlgatev1.ChequeDto{Number: proto.String("-")}, Notes: proto.String("deposit"), Amount: proto.Float64(due / 2)})
	if err != nil || !paid.GetSuccess() || paid.GetInvoice().GetStatus() != "partially_paid" || paid.GetInvoice().GetAmountDue() != due/2 {
		t.Fatalf("RecordInvoice (half) = %v, %v", paid, err)
	}
	rest := restJSON(t, h, http.MethodPost, base+first.GetId()+"/record-payment",
		`{"altType":"location","mode":"cheque","card":{"brand":"-","last4":"0000"},"cheque":{"number":"129-129"},"notes":"the rest"}`, http.StatusOK)
	if got := rest["invoice"].(map[string]any); got["status"] != "paid" || got["amountDue"] != 0.0 || got["amountPaid"] != due {
		t.Fatalf("POST record-payment (the rest) = %v", rest)
	}
	txs := orderPayments(t, h, loc, first.GetId())
	if len(txs) != 2 || txs[0].GetAmount()+txs[1].GetAmount() != due || txs[0].GetEntityType() != "invoice" {
		t.Fatalf("transactions of the paid invoice = %v", txs)
	}
	if _, err := inv.VoidInvoice(ctx, &hlgatev1.VoidInvoiceRequest{LocationId: loc, InvoiceId: first.GetId(), AltType: proto.String("location")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("VoidInvoice of a paid invoice: %v, want INVALID_ARGUMENT", err)
	}

	second := newTestInvoice(t, h, inv, "second")
	void := restJSON(t, h, http.MethodPost, base+second.GetId()+"/void", `{"altType":"location"}`, http.StatusOK)
	if void["status"] != "void" {
		t.Fatalf("POST void = %v", void)
	}
	if code, _, b := h.rest(http.MethodPost, base+second.GetId()+"/send", "", strings.NewReader(`{"altType":"location","userId":"u","action":"sms","liveMode":false}`)); code != http.StatusBadRequest {
		t.Fatalf("POST send of a void invoice = %d %s, want 400", code, b)
	}
	third := newTestInvoice(t, h, inv, "third")
	if v, err := inv.VoidInvoice(ctx, &hlgatev1.VoidInvoiceRequest{LocationId: loc, InvoiceId: third.GetId(), AltType: proto.String("location")}); err != nil || v.GetStatus() != "void" {
		t.Fatalf("VoidInvoice = %v, %v", v, err)
	}
	if _, err := inv.RecordInvoice(ctx, &hlgatev1.RecordInvoiceRequest{LocationId: loc, InvoiceId: third.GetId(), AltType: proto.String("location"),
		Mode: proto.String("cash"), Card: &hlgatev1.InvoicesCardDto{Brand: proto.String("-"), Last4: proto.String("0000")}, Cheque: &hlgatev1.ChequeDto{Number: proto.String("-")},
		Notes: proto.String("x")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("RecordInvoice of a void invoice: %v, want INVALID_ARGUMENT", err)
	}
	// The document requires card, cheque and notes whatever the mode: a
	// payment without them never leaves hlgate.
	before := h.hits.total("")
	if _, err := inv.RecordInvoice(ctx, &hlgatev1.RecordInvoiceRequest{LocationId: loc, InvoiceId: third.GetId(), AltType: proto.String("location"),
		Mode: proto.String("cash")}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "card") {
		t.Fatalf("RecordInvoice without card: %v, want INVALID_ARGUMENT naming card", err)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused RecordInvoice reached HighLevel")
	}
	restJSON(t, h, http.MethodPatch, base+newTestInvoice(t, h, inv, "fourth").GetId()+"/late-fees-configuration",
		`{"altType":"location","lateFeesConfiguration":{"enable":false,"value":0,"type":"fixed","frequency":{"intervalCount":1,"interval":"day"}}}`, http.StatusOK)
	restJSON(t, h, http.MethodPost, base+newTestInvoice(t, h, inv, "fifth").GetId()+"/send",
		`{"altType":"location","userId":"User00000000000001","action":"send_manually","liveMode":false}`, http.StatusOK)

	tmpl, err := inv.CreateInvoiceTemplate(ctx, &hlgatev1.CreateInvoiceTemplateRequest{LocationId: loc, AltType: proto.String("location"), Name: proto.String("Monthly"),
		BusinessDetails: &hlgatev1.BusinessDetailsDto{Name: proto.String("Acme")}, Currency: proto.String("USD"),
		Items: []*hlgatev1.InvoiceItemDto{{Name: proto.String("Setup"), Currency: proto.String("USD"), Amount: proto.Float64(250), Qty: proto.Float64(1)}}})
	if err != nil {
		t.Fatalf("CreateInvoiceTemplate: %v", err)
	}
	if r, err := inv.UpdateInvoiceTemplateLateFeesConfiguration(ctx, &hlgatev1.UpdateInvoiceTemplateLateFeesConfigurationRequest{LocationId: loc, TemplateId: tmpl.GetId(),
		AltType: proto.String("location"), LateFeesConfiguration: fees}); err != nil || r.GetId() != tmpl.GetId() {
		t.Fatalf("UpdateInvoiceTemplateLateFeesConfiguration = %v, %v", r, err)
	}
	restJSON(t, h, http.MethodPatch, base+"template/"+tmpl.GetId()+"/late-fees-configuration", `{"altType":"location","lateFeesConfiguration":{"enable":false,"value":0,"type":"fixed","frequency":{"intervalCount":1,"interval":"day"}}}`, http.StatusOK)
	if r, err := inv.UpdateInvoicePaymentMethodsConfiguration(ctx, &hlgatev1.UpdateInvoicePaymentMethodsConfigurationRequest{LocationId: loc, TemplateId: tmpl.GetId(),
		AltType: proto.String("location"), PaymentMethods: &hlgatev1.PaymentMethodDto{Stripe: &hlgatev1.StripePaymentMethodDto{EnableBankDebitOnly: proto.Bool(true)}}}); err != nil || r.GetId() != tmpl.GetId() {
		t.Fatalf("UpdateInvoicePaymentMethodsConfiguration = %v, %v", r, err)
	}
	pm := restJSON(t, h, http.MethodPatch, base+"template/"+tmpl.GetId()+"/payment-methods-configuration",
		`{"altType":"location","paymentMethods":{"stripe":{"enableBankDebitOnly":false}}}`, http.StatusOK)
	if pm["unmapped"].(map[string]any)["paymentMethods"].(map[string]any)["stripe"].(map[string]any)["enableBankDebitOnly"] != false {
		t.Fatalf("PATCH payment methods = %v", pm)
	}

	t2p, err := inv.Text2PayInvoice(ctx, &hlgatev1.Text2PayInvoiceRequest{LocationId: loc, AltType: proto.String("location"), Name: proto.String("by text"),
		Currency: proto.String("USD"), Items: []*hlgatev1.InvoiceItemDto{{Name: proto.String("Setup"), Currency: proto.String("USD"), Amount: proto.Float64(20), Qty: proto.Float64(3)}},
		ContactDetails: &hlgatev1.ContactDetailsDto{Id: proto.String("Contact0000000000001"), Name: proto.String("Alex"), PhoneNo: proto.String("+15550100"), Email: proto.String("alex@example.com")},
		IssueDate:      proto.String("2026-12-01"), SentTo: &hlgatev1.SentToDto{Email: []string{"alex@example.com"}, PhoneNo: []string{"+15550100"}}, LiveMode: proto.Bool(false),
		Action: proto.String("send"), UserId: proto.String("User00000000000001")})
	if err != nil || t2p.GetInvoice().GetStatus() != "sent" || t2p.GetInvoice().GetTotal() != 60 || t2p.GetInvoiceUrl() == "" {
		t.Fatalf("Text2payInvoice = %v, %v", t2p, err)
	}
	if d := restJSON(t, h, http.MethodPost, base+"text2pay",
		`{"altType":"location","name":"by text, again","currency":"USD","items":[{"name":"Setup","currency":"USD","amount":5,"qty":1}],`+
			`"contactDetails":{"id":"Contact0000000000001","name":"Alex","phoneNo":"+15550100","email":"alex@example.com"},"issueDate":"2026-12-01","sentTo":{"email":["alex@example.com"]},"liveMode":false,"action":"draft","userId":"u"}`, http.StatusOK); d["invoice"].(map[string]any)["status"] != "draft" {
		t.Fatalf("POST text2pay (draft) = %v", d)
	}
	n, err := inv.GenerateInvoiceNumber(ctx, &hlgatev1.GenerateInvoiceNumberRequest{LocationId: loc})
	if err != nil || n.GetInvoiceNumber() < 2 {
		t.Fatalf("GenerateInvoiceNumber = %v, %v; want past the two text2pay invoices", n, err)
	}
	if r := restJSON(t, h, http.MethodGet, base+"generate-invoice-number", "", http.StatusOK); r["invoiceNumber"] != n.GetInvoiceNumber() {
		t.Fatalf("GET generate-invoice-number = %v, want %v", r, n.GetInvoiceNumber())
	}
	st, err := inv.GetInvoiceSettings(ctx, &hlgatev1.GetInvoiceSettingsRequest{LocationId: loc})
	if err != nil || st.GetAltId() != loc || st.GetInvoiceNumberPrefix() == "" {
		t.Fatalf("GetInvoiceSettings = %v, %v", st, err)
	}
	restJSON(t, h, http.MethodGet, base+"settings", "", http.StatusOK)
}

// An invoice schedule started, given its automatic payment, started again
// with its changes and cancelled, over gRPC and REST; a cancelled schedule
// is not started again.
func TestInvoiceScheduleActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	inv := hlgatev1.NewInvoicesServiceClient(h.conn)
	base := "/v1/locations/" + loc + "/invoices/schedule/"
	create := func(name string) string {
		t.Helper()
		c := restJSON(t, h, http.MethodPost, base[:len(base)-1],
			`{"altType":"location","name":"`+name+`","contactDetails":{"id":"Contact0000000000001","name":"Alex","phoneNo":"+15550100","email":"alex@example.com"},`+
				`"schedule":{"rrule":{"intervalType":"monthly","interval":1,"startDate":"2026-12-01"}},"liveMode":false,"businessDetails":{"name":"Acme"},"currency":"USD",`+
				`"items":[{"name":"Setup","currency":"USD","amount":250,"qty":1}],"discount":{"type":"percentage","value":0},"termsNotes":"","title":"INVOICE"}`, http.StatusOK)
		id, _ := c["_id"].(string)
		if id == "" {
			t.Fatalf("POST schedule = %v", c)
		}
		return id
	}
	one, two := create("monthly"), create("monthly, by REST")
	s, err := inv.ScheduleInvoiceSchedule(ctx, &hlgatev1.ScheduleInvoiceScheduleRequest{LocationId: loc, ScheduleId: one, AltType: proto.String("location"), LiveMode: proto.Bool(false)})
	if err != nil || s.GetStatus() != "scheduled" {
		t.Fatalf("ScheduleInvoiceSchedule = %v, %v", s, err)
	}
	if r := restJSON(t, h, http.MethodPost, base+two+"/schedule", `{"altType":"location","liveMode":false}`, http.StatusOK); r["status"] != "scheduled" {
		t.Fatalf("POST schedule = %v", r)
	}
	ap, err := inv.AutoPaymentInvoiceSchedule(ctx, &hlgatev1.AutoPaymentInvoiceScheduleRequest{LocationId: loc, ScheduleId: one, AltType: proto.String("location"),
		Id: proto.String(one), AutoPayment: &hlgatev1.AutoPaymentDetailsDto{Enable: proto.Bool(true), Type: proto.String("card"), PaymentMethodId: proto.String("pm_1")}})
	if err != nil || ap.GetId() != one {
		t.Fatalf("AutoPaymentInvoiceSchedule = %v, %v", ap, err)
	}
	if _, err := inv.AutoPaymentInvoiceSchedule(ctx, &hlgatev1.AutoPaymentInvoiceScheduleRequest{LocationId: loc, ScheduleId: one, AltType: proto.String("location"),
		Id: proto.String(two), AutoPayment: &hlgatev1.AutoPaymentDetailsDto{Enable: proto.Bool(false)}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("AutoPaymentInvoiceSchedule naming another schedule: %v, want INVALID_ARGUMENT", err)
	}
	restJSON(t, h, http.MethodPost, base+two+"/auto-payment", `{"altType":"location","id":"`+two+`","autoPayment":{"enable":false}}`, http.StatusOK)
	if u, err := inv.UpdateAndScheduleInvoiceSchedule(ctx, &hlgatev1.UpdateAndScheduleInvoiceScheduleRequest{LocationId: loc, ScheduleId: one}); err != nil || u.GetStatus() != "scheduled" {
		t.Fatalf("UpdateAndScheduleInvoiceSchedule = %v, %v", u, err)
	}
	restJSON(t, h, http.MethodPost, base+two+"/updateAndSchedule", "", http.StatusOK)
	if c, err := inv.CancelInvoiceSchedule(ctx, &hlgatev1.CancelInvoiceScheduleRequest{LocationId: loc, ScheduleId: one, AltType: proto.String("location")}); err != nil || c.GetStatus() != "cancelled" {
		t.Fatalf("CancelInvoiceSchedule = %v, %v", c, err)
	}
	restJSON(t, h, http.MethodPost, base+two+"/cancel", `{"altType":"location"}`, http.StatusOK)
	if _, err := inv.ScheduleInvoiceSchedule(ctx, &hlgatev1.ScheduleInvoiceScheduleRequest{LocationId: loc, ScheduleId: one, AltType: proto.String("location"), LiveMode: proto.Bool(false)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("ScheduleInvoiceSchedule of a cancelled schedule: %v, want INVALID_ARGUMENT", err)
	}
	if g, err := inv.GetInvoiceSchedule(ctx, &hlgatev1.GetInvoiceScheduleRequest{LocationId: loc, ScheduleId: two}); err != nil || g.GetStatus() != "cancelled" {
		t.Fatalf("GetInvoiceSchedule after the cancel = %v, %v", g, err)
	}
}

// Estimates: created over gRPC and REST, walked to the end through
// page_token, sent, and made into an invoice of their items, once; the
// next estimate number; a template previewed. The document's items and
// lists are corrected in api/overlay.yaml, so the records come typed.
func TestEstimates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	inv := hlgatev1.NewInvoicesServiceClient(h.conn)
	base := "/v1/locations/" + loc + "/invoices/estimate"
	items := []*hlgatev1.EstimateLineItemDto{{Name: proto.String("Roof"), Currency: proto.String("USD"), Amount: proto.Float64(400), Qty: proto.Float64(2)}}
	contact := &hlgatev1.ContactDetailsDto{Id: proto.String("Contact0000000000001"), Name: proto.String("Alex"), PhoneNo: proto.String("+15550100"), Email: proto.String("alex@example.com")}
	var ids []string
	for i, name := range []string{"roof", "porch"} {
		e, err := inv.CreateNewEstimate(ctx, &hlgatev1.CreateNewEstimateRequest{LocationId: loc, AltType: proto.String("location"), Name: proto.String(name),
			BusinessDetails: &hlgatev1.BusinessDetailsDto{Name: proto.String("Acme")}, Currency: proto.String("USD"), Items: items,
			Discount: &hlgatev1.DiscountDto{Type: proto.String("percentage"), Value: proto.Float64(0)}, ContactDetails: contact,
			FrequencySettings: &hlgatev1.FrequencySettingsDto{Enabled: proto.Bool(false), Schedule: &hlgatev1.InvoicesScheduleOptionsDto{}}, EstimateNumber: proto.Float64(float64(1000 + i))})
		if err != nil || e.GetId() == "" || len(e.GetItems()) != 1 || e.GetItems()[0].GetName() != "Roof" {
			t.Fatalf("CreateNewEstimate(%s) = %v, %v", name, e, err)
		}
		ids = append(ids, e.GetId())
	}
	c := restJSON(t, h, http.MethodPost, base, `{"altType":"location","name":"fence","businessDetails":{"name":"Acme"},"currency":"USD",`+
		`"items":[{"name":"Fence","currency":"USD","amount":50,"qty":4}],"discount":{"type":"percentage","value":0},`+
		`"contactDetails":{"id":"Contact0000000000001","name":"Alex","phoneNo":"+15550100","email":"alex@example.com"},"frequencySettings":{"enabled":false,"schedule":{}}}`, http.StatusOK)
	fence, _ := c["_id"].(string)
	if fence == "" {
		t.Fatalf("POST estimate = %v", c)
	}
	ids = append(ids, fence)

	seen := walkIDs(t, 4, 3, func(token string) ([]string, string, int32, error) {
		page, err := inv.ListEstimates(ctx, &hlgatev1.ListEstimatesRequest{LocationId: loc, PageSize: 2, PageToken: token})
		var ids []string
		for _, r := range page.GetEstimates() {
			ids = append(ids, r.GetId())
		}
		return ids, page.GetNextPageToken(), page.GetTotalSize(), err
	})
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("the walk missed estimate %s (saw %v)", id, seen)
		}
	}
	if l := restJSON(t, h, http.MethodGet, base+"/list?pageSize=10", "", http.StatusOK); len(l["estimates"].([]any)) != 3 {
		t.Fatalf("GET estimates = %v", l)
	}

	n, err := inv.GenerateEstimateNumber(ctx, &hlgatev1.GenerateEstimateNumberRequest{LocationId: loc})
	if err != nil || n.GetEstimateNumber() != 1002 {
		t.Fatalf("GenerateEstimateNumber = %v, %v; want 1002", n, err)
	}
	restJSON(t, h, http.MethodGet, base+"/number/generate", "", http.StatusOK)

	sent, err := inv.SendEstimate(ctx, &hlgatev1.SendEstimateRequest{LocationId: loc, EstimateId: ids[0], AltType: proto.String("location"),
		Action: proto.String("email"), LiveMode: proto.Bool(false), UserId: proto.String("User00000000000001")})
	if err != nil || sent.GetSentBy() != "User00000000000001" {
		t.Fatalf("SendEstimate = %v, %v", sent, err)
	}
	restJSON(t, h, http.MethodPost, base+"/"+ids[1]+"/send", `{"altType":"location","action":"sms","liveMode":false,"userId":"u"}`, http.StatusOK)
	made, err := inv.CreateInvoiceFromEstimate(ctx, &hlgatev1.CreateInvoiceFromEstimateRequest{LocationId: loc, EstimateId: ids[0], AltType: proto.String("location"), MarkAsInvoiced: proto.Bool(true)})
	if err != nil || made.GetInvoice().GetId() == "" || made.GetInvoice().GetTotal() != 800 || made.GetInvoice().GetStatus() != "draft" {
		t.Fatalf("CreateInvoiceFromEstimate = %v, %v", made, err)
	}
	if g, err := inv.GetInvoice(ctx, &hlgatev1.GetInvoiceRequest{LocationId: loc, InvoiceId: made.GetInvoice().GetId()}); err != nil || g.GetAmountDue() != 800 {
		t.Fatalf("GetInvoice of the estimate's invoice = %v, %v", g, err)
	}
	if _, err := inv.CreateInvoiceFromEstimate(ctx, &hlgatev1.CreateInvoiceFromEstimateRequest{LocationId: loc, EstimateId: ids[0], AltType: proto.String("location"), MarkAsInvoiced: proto.Bool(true)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a second invoice of an invoiced estimate: %v, want INVALID_ARGUMENT", err)
	}
	if r := restJSON(t, h, http.MethodPost, base+"/"+fence+"/invoice", `{"altType":"location","markAsInvoiced":false}`, http.StatusOK); r["invoice"].(map[string]any)["total"] != 200.0 {
		t.Fatalf("POST estimate invoice = %v", r)
	}

	tmpl, err := inv.CreateEstimateTemplate(ctx, &hlgatev1.CreateEstimateTemplateRequest{LocationId: loc, AltType: proto.String("location"), Name: proto.String("Roofs"),
		BusinessDetails: &hlgatev1.BusinessDetailsDto{Name: proto.String("Acme")}, Currency: proto.String("USD"), Items: items,
		Discount: &hlgatev1.DiscountDto{Type: proto.String("percentage"), Value: proto.Float64(0)}})
	if err != nil || tmpl.GetId() == "" {
		t.Fatalf("CreateEstimateTemplate = %v, %v", tmpl, err)
	}
	p, err := inv.PreviewEstimateTemplate(ctx, &hlgatev1.PreviewEstimateTemplateRequest{LocationId: loc, TemplateId: proto.String(tmpl.GetId())})
	if err != nil || p.GetName() != "Roofs" || len(p.GetItems()) != 1 {
		t.Fatalf("PreviewEstimateTemplate = %v, %v", p, err)
	}
	restJSON(t, h, http.MethodGet, base+"/template/preview?templateId="+tmpl.GetId(), "", http.StatusOK)
	if code, _, b := h.rest(http.MethodGet, base+"/template/preview?templateId=nope", "", nil); code != http.StatusNotFound {
		t.Fatalf("GET preview of an unknown template = %d %s", code, b)
	}
}
