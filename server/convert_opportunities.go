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
// an opportunity can be in, so no status converts to it except the
// unspecified status of a search (opportunitySearchParams).
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

// opportunitiesMaxQuery bounds the free-text query, which travels in the
// URL of HighLevel's GET search: hlgate's own bound, far above any name,
// email or phone, well below URL limits.
const opportunitiesMaxQuery = 1000

// opportunitySearchParams validates a search's filters and builds
// HighLevel's query parameters for a page of size opportunities (paging
// members are added by the caller).
func opportunitySearchParams(req *hlgatev1.SearchOpportunitiesRequest, size int, v *violations) highlevel.SearchOpportunitiesParams {
	v.id("location_id", req.GetLocationId())
	v.maxLen("query", req.GetQuery(), opportunitiesMaxQuery)
	v.optionalID("pipeline_id", req.GetPipelineId())
	v.optionalID("pipeline_stage_id", req.GetPipelineStageId())
	v.optionalID("contact_id", req.GetContactId())
	v.optionalID("assigned_to", req.GetAssignedTo())
	status := highlevel.SearchOpportunitiesParamsStatusAll
	if req.GetStatus() != hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_UNSPECIFIED {
		s, ok := opportunityStatusToHL(req.GetStatus())
		if !ok {
			v.add("status", "must be unspecified (every status), open, won, lost or abandoned")
		}
		status = highlevel.SearchOpportunitiesParamsStatus(s)
	}
	limit := float64(size)
	return highlevel.SearchOpportunitiesParams{
		LocationID:      req.GetLocationId(),
		Q:               optStr(req.GetQuery()),
		PipelineID:      optStr(req.GetPipelineId()),
		PipelineStageID: optStr(req.GetPipelineStageId()),
		ContactID:       optStr(req.GetContactId()),
		AssignedTo:      optStr(req.GetAssignedTo()),
		Status:          &status,
		Limit:           &limit,
	}
}
