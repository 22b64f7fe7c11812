package server

import (
	"context"

	"google.golang.org/grpc/codes"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// opportunitiesService is OpportunitiesService's hand-written part.
// SearchOpportunities (GET /opportunities/search, paged by meta's
// startAfter/startAfterId) and ListPipelines (every pipeline at once, paged
// by hlgate) are served by the generic path, from their rows' pagers.
type opportunitiesService struct {
	hlgatev1.UnimplementedOpportunitiesServiceServer
	s *Server
}

func (c *opportunitiesService) UpdateOpportunityStatus(ctx context.Context, req *hlgatev1.UpdateOpportunityStatusRequest) (*hlgatev1.UpdateOpportunityStatusResponse, error) {
	var v violations
	body := opportunityStatusBody(req, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	resp, err := c.s.hl.UpdateOpportunityStatusWithResponse(upstreamCtx(ctx, req.GetLocationId()), req.GetOpportunityId(), body)
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil || !boolean(resp.JSON200.Succeded) {
		return nil, statusError(codes.Aborted, "HighLevel did not confirm the status change; read the opportunity to see its state", ReasonUpstreamError)
	}
	return &hlgatev1.UpdateOpportunityStatusResponse{}, nil
}
