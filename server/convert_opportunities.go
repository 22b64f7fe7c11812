package server

import (
	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// Conversions between hlgate.v1 opportunities and pipelines and HighLevel's
// (api/openapi.yaml: Opportunity, Pipeline, PipelineStage and the write
// bodies CreateOpportunityRequest, UpdateOpportunityRequest,
// UpdateOpportunityStatusRequest).

// opportunityStatuses maps each settable status to HighLevel's string. The
// upstream enums also list "all", which is a search filter and never a state
// an opportunity can be in, so no status converts to it (a search with an
// unspecified status sends none, which HighLevel reads as every status).
var opportunityStatuses = map[hlgatev1.OpportunityStatus]string{
	hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN:      "open",
	hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON:       "won",
	hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST:      "lost",
	hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_ABANDONED: "abandoned",
}

// opportunityStatusToHL returns HighLevel's string of a settable status;
// false for UNSPECIFIED and for numbers the enum does not define.
func opportunityStatusToHL(s hlgatev1.OpportunityStatus) (string, bool) {
	hl, ok := opportunityStatuses[s]
	return hl, ok
}

// opportunityStatusBody validates an UpdateOpportunityStatusRequest and
// builds HighLevel's status body.
func opportunityStatusBody(req *hlgatev1.UpdateOpportunityStatusRequest, v *violations) highlevel.UpdateOpportunityStatusRequest {
	v.id("location_id", req.GetLocationId())
	v.id("opportunity_id", req.GetOpportunityId())
	s, ok := opportunityStatusToHL(req.GetStatus())
	if !ok {
		v.add("status", "is required: open, won, lost or abandoned")
	}
	body := highlevel.UpdateOpportunityStatusRequest{Status: highlevel.UpdateOpportunityStatusRequestStatus(s)}
	if req.GetLostReasonId() != "" {
		if req.GetStatus() != hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST {
			v.add("lost_reason_id", "is allowed only with status OPPORTUNITY_STATUS_LOST")
		}
		v.id("lost_reason_id", req.GetLostReasonId())
		body.LostReasonID = optStr(req.GetLostReasonId())
	}
	return body
}
