package server

import (
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// orderWire is an order as either payments call returns it. The list call
// (OrderSummary) sends contact, amounts and source flat; the get call
// (Order) nests them in contactSnapshot, amountSummary, source and coupon.
// HighLevel is not consistent about which shape a response takes, so both
// are read and the flat member wins when it is set.
type orderWire struct {
	highlevel.Order
	ContactName   *string  `json:"contactName,omitempty"`
	ContactEmail  *string  `json:"contactEmail,omitempty"`
	Subtotal      *float64 `json:"subtotal,omitempty"`
	Discount      *float64 `json:"discount,omitempty"`
	SourceType    *string  `json:"sourceType,omitempty"`
	SourceSubType *string  `json:"sourceSubType,omitempty"`
	SourceID      *string  `json:"sourceId,omitempty"`
	SourceName    *string  `json:"sourceName,omitempty"`
	CouponCode    *string  `json:"couponCode,omitempty"`
	TotalProducts *float64 `json:"totalProducts,omitempty"`
}

// transactionWire is a transaction as either payments call returns it: the
// list call (TransactionSummary) sends contact and entity source flat, the
// get call (Transaction) nests them in contactSnapshot, entitySource and
// paymentProvider.
type transactionWire struct {
	highlevel.Transaction
	ContactName         *string    `json:"contactName,omitempty"`
	ContactEmail        *string    `json:"contactEmail,omitempty"`
	EntitySourceType    *string    `json:"entitySourceType,omitempty"`
	EntitySourceSubType *string    `json:"entitySourceSubType,omitempty"`
	EntitySourceID      *string    `json:"entitySourceId,omitempty"`
	EntitySourceName    *string    `json:"entitySourceName,omitempty"`
	PaymentProviderType *string    `json:"paymentProviderType,omitempty"`
	FulfilledAt         *time.Time `json:"fulfilledAt,omitempty"`
}

// orderFromHL converts an order of either payments call.
func orderFromHL(o *orderWire) *hlgatev1.Order {
	if o == nil {
		return nil
	}
	out := &hlgatev1.Order{
		Id:                o.ID,
		LocationId:        altLocation(o.AltID, o.AltType),
		ContactId:         str(o.ContactID),
		ContactName:       firstOf(str(o.ContactName), snapshotName(o.ContactSnapshot)),
		ContactEmail:      firstOf(str(o.ContactEmail), mapString(o.ContactSnapshot, "email")),
		Currency:          str(o.Currency),
		Amount:            num(o.Amount),
		Status:            o.Status,
		FulfillmentStatus: str(o.FulfillmentStatus),
		LiveMode:          boolean(o.LiveMode),
		CouponCode:        firstOf(str(o.CouponCode), mapString(o.Coupon, "code")),
		TotalProducts:     int32(num(o.TotalProducts)),
		CreatedBy:         str(o.CreatedBy),
		CreatedAt:         timeOrNil(o.CreatedAt),
		UpdatedAt:         timeOrNil(o.UpdatedAt),
		SourceType:        str(o.SourceType),
		SourceSubType:     str(o.SourceSubType),
		SourceId:          str(o.SourceID),
		SourceName:        str(o.SourceName),
	}
	if o.Subtotal != nil {
		out.Subtotal = *o.Subtotal
	} else if o.AmountSummary != nil {
		out.Subtotal = o.AmountSummary.Subtotal
	}
	if o.Discount != nil {
		out.Discount = *o.Discount
	} else if o.AmountSummary != nil {
		out.Discount = num(o.AmountSummary.Discount)
	}
	if s := o.Source; s != nil {
		out.SourceType = firstOf(out.SourceType, string(s.Type))
		if s.SubType != nil {
			out.SourceSubType = firstOf(out.SourceSubType, string(*s.SubType))
		}
		out.SourceId = firstOf(out.SourceId, s.ID)
		out.SourceName = firstOf(out.SourceName, str(s.Name))
	}
	if o.Items != nil {
		out.Items = make([]*hlgatev1.OrderItem, 0, len(*o.Items))
		for _, it := range *o.Items {
			out.Items = append(out.Items, orderItemFromHL(it))
		}
	}
	return out
}

// orderItemFromHL converts one order item. The V2 document declares items
// only by example (`_id`, `name`, `qty`, `price{_id, amount, currency}`,
// `product{_id, name, productType}`), so they are read as loose JSON.
func orderItemFromHL(it map[string]any) *hlgatev1.OrderItem {
	price, _ := it["price"].(map[string]any)
	product, _ := it["product"].(map[string]any)
	return &hlgatev1.OrderItem{
		Id:          anyString(it["_id"]),
		Name:        anyString(it["name"]),
		Quantity:    int32(anyNumber(it["qty"])),
		UnitPrice:   anyNumber(price["amount"]),
		Currency:    anyString(price["currency"]),
		PriceId:     anyString(price["_id"]),
		ProductId:   anyString(product["_id"]),
		ProductName: anyString(product["name"]),
		ProductType: anyString(product["productType"]),
	}
}

// transactionFromHL converts a transaction of either payments call.
func transactionFromHL(t *transactionWire) *hlgatev1.Transaction {
	if t == nil {
		return nil
	}
	out := &hlgatev1.Transaction{
		Id:                  t.ID,
		LocationId:          altLocation(t.AltID, t.AltType),
		ContactId:           str(t.ContactID),
		ContactName:         firstOf(str(t.ContactName), snapshotName(t.ContactSnapshot)),
		ContactEmail:        firstOf(str(t.ContactEmail), mapString(t.ContactSnapshot, "email")),
		Currency:            str(t.Currency),
		Amount:              num(t.Amount),
		AmountRefunded:      num(t.AmountRefunded),
		Status:              str(t.Status),
		LiveMode:            boolean(t.LiveMode),
		EntityType:          str(t.EntityType),
		EntityId:            str(t.EntityID),
		EntitySourceType:    str(t.EntitySourceType),
		EntitySourceSubType: str(t.EntitySourceSubType),
		EntitySourceId:      str(t.EntitySourceID),
		EntitySourceName:    str(t.EntitySourceName),
		SubscriptionId:      str(t.SubscriptionID),
		ChargeId:            str(t.ChargeID),
		PaymentProviderType: firstOf(str(t.PaymentProviderType), mapString(t.PaymentProvider, "type")),
		InvoiceId:           str(t.InvoiceID),
		CreatedBy:           str(t.CreatedBy),
		CreatedAt:           timeOrNil(t.CreatedAt),
		UpdatedAt:           timeOrNil(t.UpdatedAt),
	}
	if t.FulfilledAt != nil {
		out.FulfilledAt = timeOrNil(*t.FulfilledAt)
	}
	if s := t.EntitySource; s != nil {
		out.EntitySourceType = firstOf(out.EntitySourceType, string(s.Type))
		if s.SubType != nil {
			out.EntitySourceSubType = firstOf(out.EntitySourceSubType, string(*s.SubType))
		}
		out.EntitySourceId = firstOf(out.EntitySourceId, s.ID)
		out.EntitySourceName = firstOf(out.EntitySourceName, str(s.Name))
	}
	return out
}

// altLocation is the location of a payments record: its altId when altType
// says the owner is a location (the only owner hlgate asks for).
func altLocation(altID, altType string) string {
	if altType == "" || altType == "location" {
		return altID
	}
	return ""
}

// snapshotName reads the contact's name from a contactSnapshot, which holds
// a contact record as it was: `name`, or else first and last name (both
// spellings occur: the V2 example shows `first_name`/`last_name` keys).
func snapshotName(snap *map[string]any) string {
	if n := mapString(snap, "name"); n != "" {
		return n
	}
	first := firstOf(mapString(snap, "firstName"), mapString(snap, "first_name"))
	last := firstOf(mapString(snap, "lastName"), mapString(snap, "last_name"))
	return strings.TrimSpace(first + " " + last)
}

// mapString reads a string member of an optional loose JSON object.
func mapString(m *map[string]any, key string) string {
	if m == nil {
		return ""
	}
	return anyString((*m)[key])
}

// anyString reads a loose JSON value as a string; numbers (ids sent as
// numbers) are formatted, anything else is empty.
func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}

// anyNumber reads a loose JSON number; HighLevel's examples sometimes quote
// numbers, so a numeric string is read too.
func anyNumber(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	return 0
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// timeOrNil converts a decoded upstream time; the zero time (member absent)
// is no timestamp rather than year 1.
func timeOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// paymentStatusToHL is the upstream `paymentStatus` filter value.
var paymentStatusToHL = map[hlgatev1.PaymentStatus]highlevel.ListOrdersParamsPaymentStatus{
	hlgatev1.PaymentStatus_PAYMENT_STATUS_PAID:           highlevel.ListOrdersParamsPaymentStatusPaid,
	hlgatev1.PaymentStatus_PAYMENT_STATUS_UNPAID:         highlevel.ListOrdersParamsPaymentStatusUnpaid,
	hlgatev1.PaymentStatus_PAYMENT_STATUS_REFUNDED:       highlevel.ListOrdersParamsPaymentStatusRefunded,
	hlgatev1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_PAID: highlevel.ListOrdersParamsPaymentStatusPartiallyPaid,
}

// dayRange checks the start_date/end_date pair of a payments list: each a
// "YYYY-MM-DD" day (upstream `startAt`/`endAt`), the end not before the
// start.
func (v *violations) dayRange(startField, start, endField, end string) {
	var from, to time.Time
	var err error
	if start != "" {
		if from, err = time.Parse(time.DateOnly, start); err != nil {
			v.add(startField, "must be a day as YYYY-MM-DD")
		}
	}
	if end != "" {
		if to, err = time.Parse(time.DateOnly, end); err != nil {
			v.add(endField, "must be a day as YYYY-MM-DD")
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		v.add(endField, "must not be before %s", startField)
	}
}

// ordersParams builds the upstream query of ListOrders, checking the
// request's filters. altType is not a declared parameter of this call; it
// is added by the handler (see withAltTypeLocation).
func ordersParams(req *hlgatev1.ListOrdersRequest, offset, limit int, v *violations) *highlevel.ListOrdersParams {
	v.id("location_id", req.GetLocationId())
	v.optionalID("contact_id", req.GetContactId())
	v.dayRange("start_date", req.GetStartDate(), "end_date", req.GetEndDate())
	loc := req.GetLocationId()
	lim, off := float64(limit), float64(offset)
	p := &highlevel.ListOrdersParams{
		AltID:      loc,
		LocationID: &loc,
		Status:     optStr(req.GetStatus()),
		ContactID:  optStr(req.GetContactId()),
		StartAt:    optStr(req.GetStartDate()),
		EndAt:      optStr(req.GetEndDate()),
		Search:     optStr(req.GetQuery()),
		Limit:      &lim,
		Offset:     &off,
	}
	if ps := req.GetPaymentStatus(); ps != hlgatev1.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED {
		hl, ok := paymentStatusToHL[ps]
		if !ok {
			v.add("payment_status", "is not a known payment status")
		}
		p.PaymentStatus = &hl
	}
	return p
}

// transactionsParams builds the upstream query of ListTransactions,
// checking the request's filters.
func transactionsParams(req *hlgatev1.ListTransactionsRequest, offset, limit int, v *violations) *highlevel.ListTransactionsParams {
	v.id("location_id", req.GetLocationId())
	v.optionalID("contact_id", req.GetContactId())
	v.optionalID("entity_id", req.GetEntityId())
	v.optionalID("subscription_id", req.GetSubscriptionId())
	v.dayRange("start_date", req.GetStartDate(), "end_date", req.GetEndDate())
	loc := req.GetLocationId()
	lim, off := float64(limit), float64(offset)
	return &highlevel.ListTransactionsParams{
		AltID:          loc,
		AltType:        "location",
		LocationID:     &loc,
		ContactID:      optStr(req.GetContactId()),
		EntityID:       optStr(req.GetEntityId()),
		SubscriptionID: optStr(req.GetSubscriptionId()),
		StartAt:        optStr(req.GetStartDate()),
		EndAt:          optStr(req.GetEndDate()),
		Search:         optStr(req.GetQuery()),
		Limit:          &lim,
		Offset:         &off,
	}
}
