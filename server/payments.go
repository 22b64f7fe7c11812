package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"google.golang.org/protobuf/proto"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// Payments lists page with limit/offset and report totalCount (reference
// facts §6, §7); HighLevel's limit defaults to 10, hlgate asks for the
// caller's page size, at most 100.
const (
	paymentsDefaultPageSize = defaultPageSize
	paymentsMaxPageSize     = 100
)

type paymentsService struct {
	hlgatev1.UnimplementedPaymentsServiceServer
	s *Server
}

// offsetCursor is the upstream position sealed in a payments page token:
// the offset of the next page's first record.
type offsetCursor struct {
	Offset int `json:"o"`
}

// withAltTypeLocation adds altType=location to a payments query whose
// generated parameters lack it. Every payments call names its owner as
// altId plus altType; GET /payments/orders declares only altId, but the
// sibling calls answer 422 "altType should not be empty" without altType
// (reference facts, pitfall 8), so hlgate always sends the pair.
func withAltTypeLocation(_ context.Context, req *http.Request) error {
	q := req.URL.Query()
	q.Set("altType", "location")
	req.URL.RawQuery = q.Encode()
	return nil
}

func (p *paymentsService) ListOrders(ctx context.Context, req *hlgatev1.ListOrdersRequest) (*hlgatev1.ListOrdersResponse, error) {
	size, err := pageSize(req.GetPageSize(), paymentsDefaultPageSize, paymentsMaxPageSize)
	if err != nil {
		return nil, err
	}
	var v violations
	params := ordersParams(req, 0, size, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	var cur offsetCursor
	if req.GetPageToken() != "" {
		if err := p.s.pages.open(hlgatev1.PaymentsService_ListOrders_FullMethodName, req.GetPageToken(), req, &cur); err != nil {
			return nil, err
		}
	}
	off := float64(cur.Offset)
	params.Offset = &off
	resp, err := p.s.hl.ListOrdersWithResponse(upstreamCtx(ctx, req.GetLocationId()), params, withAltTypeLocation)
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		return nil, errMissingBody
	}
	total := int(resp.JSON200.TotalCount)
	out := &hlgatev1.ListOrdersResponse{TotalSize: int32(total), Orders: make([]*hlgatev1.Order, 0, len(resp.JSON200.Data))}
	for i := range resp.JSON200.Data {
		var w orderWire
		if err := transcode(&resp.JSON200.Data[i], &w); err != nil {
			return nil, fmt.Errorf("decode order: %w", err)
		}
		out.Orders = append(out.Orders, orderFromHL(&w))
	}
	tok, err := p.nextPage(hlgatev1.PaymentsService_ListOrders_FullMethodName, req, cur.Offset, len(out.Orders), total)
	if err != nil {
		return nil, err
	}
	out.NextPageToken = tok
	return out, nil
}

func (p *paymentsService) GetOrder(ctx context.Context, req *hlgatev1.GetOrderRequest) (*hlgatev1.GetOrderResponse, error) {
	var v violations
	v.id("location_id", req.GetLocationId())
	v.id("order_id", req.GetOrderId())
	if err := v.err(); err != nil {
		return nil, err
	}
	loc := req.GetLocationId()
	resp, err := p.s.hl.GetOrderWithResponse(upstreamCtx(ctx, loc), req.GetOrderId(),
		&highlevel.GetOrderParams{AltID: loc, AltType: "location", LocationID: &loc})
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		return nil, errMissingBody
	}
	// The body is read again into the wider wire shape: HighLevel may send
	// the list call's flat members (contactName, subtotal, …) here too.
	var w orderWire
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return nil, fmt.Errorf("decode order: %w", err)
	}
	if err := sameLocation(loc, optStr(altLocation(w.AltID, w.AltType))); err != nil {
		return nil, err
	}
	return &hlgatev1.GetOrderResponse{Order: orderFromHL(&w)}, nil
}

func (p *paymentsService) ListTransactions(ctx context.Context, req *hlgatev1.ListTransactionsRequest) (*hlgatev1.ListTransactionsResponse, error) {
	size, err := pageSize(req.GetPageSize(), paymentsDefaultPageSize, paymentsMaxPageSize)
	if err != nil {
		return nil, err
	}
	var v violations
	params := transactionsParams(req, 0, size, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	var cur offsetCursor
	if req.GetPageToken() != "" {
		if err := p.s.pages.open(hlgatev1.PaymentsService_ListTransactions_FullMethodName, req.GetPageToken(), req, &cur); err != nil {
			return nil, err
		}
	}
	off := float64(cur.Offset)
	params.Offset = &off
	resp, err := p.s.hl.ListTransactionsWithResponse(upstreamCtx(ctx, req.GetLocationId()), params)
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		return nil, errMissingBody
	}
	total := int(resp.JSON200.TotalCount)
	out := &hlgatev1.ListTransactionsResponse{TotalSize: int32(total), Transactions: make([]*hlgatev1.Transaction, 0, len(resp.JSON200.Data))}
	for i := range resp.JSON200.Data {
		var w transactionWire
		if err := transcode(&resp.JSON200.Data[i], &w); err != nil {
			return nil, fmt.Errorf("decode transaction: %w", err)
		}
		out.Transactions = append(out.Transactions, transactionFromHL(&w))
	}
	tok, err := p.nextPage(hlgatev1.PaymentsService_ListTransactions_FullMethodName, req, cur.Offset, len(out.Transactions), total)
	if err != nil {
		return nil, err
	}
	out.NextPageToken = tok
	return out, nil
}

func (p *paymentsService) GetTransaction(ctx context.Context, req *hlgatev1.GetTransactionRequest) (*hlgatev1.GetTransactionResponse, error) {
	var v violations
	v.id("location_id", req.GetLocationId())
	v.id("transaction_id", req.GetTransactionId())
	if err := v.err(); err != nil {
		return nil, err
	}
	loc := req.GetLocationId()
	resp, err := p.s.hl.GetTransactionWithResponse(upstreamCtx(ctx, loc), req.GetTransactionId(),
		&highlevel.GetTransactionParams{AltID: loc, AltType: "location", LocationID: &loc})
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		return nil, errMissingBody
	}
	var w transactionWire
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return nil, fmt.Errorf("decode transaction: %w", err)
	}
	if err := sameLocation(loc, optStr(altLocation(w.AltID, w.AltType))); err != nil {
		return nil, err
	}
	return &hlgatev1.GetTransactionResponse{Transaction: transactionFromHL(&w)}, nil
}

// nextPage returns the page token that continues after a page of n records
// read at offset, or "" when the page was empty or reached HighLevel's
// total. An empty page ends the walk even if the total says otherwise, so
// records deleted during a walk can never loop a caller.
func (p *paymentsService) nextPage(method string, req proto.Message, offset, n, total int) (string, error) {
	next := offset + n
	if n == 0 || next >= total {
		return "", nil
	}
	return p.s.pages.seal(method, req, offsetCursor{Offset: next})
}
