package server

import (
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
