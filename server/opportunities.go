package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// Opportunities paging (reference facts §4, §7): GET /opportunities/search
// takes limit at most 100 and walks with the (startAfter, startAfterId)
// cursor of meta; GET /opportunities/pipelines answers every pipeline at
// once and hlgate pages that list itself.
const (
	opportunitiesDefaultPageSize = defaultPageSize
	opportunitiesMaxPageSize     = 100
	pipelinesDefaultPageSize     = defaultPageSize
	pipelinesMaxPageSize         = 100
)

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

// opportunitiesCursor is the upstream position sealed in a
// SearchOpportunities page token: meta.startAfter (epoch milliseconds, kept
// as HighLevel's decimal text) and meta.startAfterId of the last
// opportunity returned; Seen counts opportunities returned so far, so the
// last page is known from meta.total.
type opportunitiesCursor struct {
	StartAfter   string `json:"sa"`
	StartAfterID string `json:"sid"`
	Seen         int    `json:"n"`
}

func (c *opportunitiesService) SearchOpportunities(ctx context.Context, req *hlgatev1.SearchOpportunitiesRequest) (*hlgatev1.SearchOpportunitiesResponse, error) {
	var v violations
	size, err := pageSize(req.GetPageSize(), opportunitiesDefaultPageSize, opportunitiesMaxPageSize)
	if err != nil {
		return nil, err
	}
	params := opportunitySearchParams(req, size, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	var cur opportunitiesCursor
	if req.GetPageToken() != "" {
		if err := c.s.pages.open(hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName, req.GetPageToken(), req, &cur); err != nil {
			return nil, err
		}
		params.StartAfter, params.StartAfterID = optStr(cur.StartAfter), optStr(cur.StartAfterID)
	}
	resp, err := c.s.hl.SearchOpportunitiesWithResponse(upstreamCtx(ctx, req.GetLocationId()), &params)
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		return nil, errMissingBody
	}
	meta := resp.JSON200.Meta
	if meta == nil {
		meta = &highlevel.OpportunitySearchMeta{}
	}
	// The page's meta is read typed above, for paging; each opportunity is
	// decoded without loss, as GetOpportunity's is.
	var page struct {
		Opportunities []map[string]any `json:"opportunities"`
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil {
		return nil, fmt.Errorf("decode HighLevel's search answer: %w", err)
	}
	items := page.Opportunities
	out := &hlgatev1.SearchOpportunitiesResponse{
		Opportunities: make([]*hlgatev1.Opportunity, 0, len(items)),
		TotalSize:     int32(num(meta.Total)),
	}
	for _, obj := range items {
		o := &hlgatev1.Opportunity{}
		c.s.countUnmapped(ctx, jsonproto.DecodeMap(obj, o))
		if err := inLocation(req.GetLocationId(), o.ProtoReflect()); err != nil {
			return nil, err
		}
		out.Opportunities = append(out.Opportunities, o)
	}
	if next, ok := nextOpportunitiesCursor(meta, cur.Seen+len(items), len(items), size); ok {
		tok, err := c.s.pages.seal(hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName, req, next)
		if err != nil {
			return nil, err
		}
		out.NextPageToken = tok
	}
	return out, nil
}

// nextOpportunitiesCursor returns the cursor of the page after one of n
// opportunities (seen in all so far, size asked for), and whether there is
// such a page. HighLevel may repeat the cursor of the last item on the last
// page, so the cursor alone does not mean there is more: meta.total
// decides, and without a total only a full page does.
func nextOpportunitiesCursor(meta *highlevel.OpportunitySearchMeta, seen, n, size int) (opportunitiesCursor, bool) {
	if n == 0 || meta.StartAfter == nil || str(meta.StartAfterID) == "" {
		return opportunitiesCursor{}, false
	}
	if meta.Total != nil && seen >= int(*meta.Total) || meta.Total == nil && n < size {
		return opportunitiesCursor{}, false
	}
	return opportunitiesCursor{
		StartAfter:   strconv.FormatFloat(*meta.StartAfter, 'f', -1, 64),
		StartAfterID: *meta.StartAfterID,
		Seen:         seen,
	}, true
}
