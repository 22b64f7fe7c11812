package server

import (
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// paymentsService is PaymentsService. Every RPC is served by the generic
// path: the operation table sends altId (the location id) and
// altType=location on every call (api/overlay.yaml x-hlgate.fill), pages the
// lists by limit/offset behind one page_token, and reads the get answers,
// which are the order or transaction itself, without an envelope
// (x-hlgate.bare). An order or transaction names its location as altId
// (Order.location_id's wire name), so one of another location is NOT_FOUND
// like any other resource.
type paymentsService struct {
	hlgatev1.UnimplementedPaymentsServiceServer
	s *Server
}
