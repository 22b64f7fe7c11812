package server

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

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

// opportunityStatusFromHL reads HighLevel's status string. Anything else
// ("all" never appears on a record) reads as UNSPECIFIED rather than failing
// the whole read.
func opportunityStatusFromHL(s string) hlgatev1.OpportunityStatus {
	for k, v := range opportunityStatuses {
		if strings.EqualFold(v, s) {
			return k
		}
	}
	return hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_UNSPECIFIED
}

// opportunityFromHL converts HighLevel's opportunity (get, create, update
// and search all return the Opportunity schema).
func opportunityFromHL(o *highlevel.Opportunity) *hlgatev1.Opportunity {
	if o == nil {
		return nil
	}
	out := &hlgatev1.Opportunity{
		Id:                 str(o.ID),
		LocationId:         str(o.LocationID),
		Name:               str(o.Name),
		MonetaryValue:      num(o.MonetaryValue),
		PipelineId:         str(o.PipelineID),
		PipelineStageId:    str(o.PipelineStageID),
		AssignedTo:         str(o.AssignedTo),
		Status:             opportunityStatusFromHL(str(o.Status)),
		Source:             str(o.Source),
		ContactId:          str(o.ContactID),
		LostReasonId:       str(o.LostReasonID),
		Contact:            opportunityContactFromHL(o.Contact),
		LastStatusChangeAt: upstreamTimePtr(o.LastStatusChangeAt),
		LastStageChangeAt:  upstreamTimePtr(o.LastStageChangeAt),
		LastActionDate:     upstreamTimePtr(o.LastActionDate),
		CreatedAt:          upstreamTimePtr(o.CreatedAt),
		UpdatedAt:          upstreamTimePtr(o.UpdatedAt),
	}
	if o.Followers != nil {
		// The document leaves the items untyped; they are user ids. A
		// non-string item is kept in its printed form rather than dropped.
		for _, f := range *o.Followers {
			if s, ok := f.(string); ok {
				out.Followers = append(out.Followers, s)
			} else if f != nil {
				out.Followers = append(out.Followers, fmt.Sprint(f))
			}
		}
	}
	if o.CustomFields != nil {
		out.CustomFields = customFieldsFrom(*o.CustomFields,
			func(f *highlevel.OpportunityCustomField) string { return f.ID },
			func(f *highlevel.OpportunityCustomField) any { return unionValue(f.FieldValue) })
	}
	return out
}

// unionValue decodes a generated oneOf (its raw JSON) into the plain value
// structpb takes; a value that is not JSON at all is kept as its text.
func unionValue(m json.Marshaler) any {
	b, err := m.MarshalJSON()
	if err != nil || len(b) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

func opportunityContactFromHL(c *highlevel.OpportunityContact) *hlgatev1.OpportunityContact {
	if c == nil {
		return nil
	}
	return &hlgatev1.OpportunityContact{
		Id:          str(c.ID),
		Name:        str(c.Name),
		CompanyName: str(c.CompanyName),
		Email:       str(c.Email),
		Phone:       str(c.Phone),
		Tags:        strs(c.Tags),
	}
}

// pipelineFromHL converts a pipeline and its stages (PipelineStage is an
// assumption of api/openapi.yaml: the official document leaves the stage
// object undeclared).
func pipelineFromHL(p *highlevel.Pipeline) *hlgatev1.Pipeline {
	if p == nil {
		return nil
	}
	out := &hlgatev1.Pipeline{
		Id:             str(p.ID),
		LocationId:     str(p.LocationID),
		Name:           str(p.Name),
		ShowInFunnel:   boolean(p.ShowInFunnel),
		ShowInPieChart: boolean(p.ShowInPieChart),
	}
	if p.Stages != nil {
		out.Stages = make([]*hlgatev1.Stage, 0, len(*p.Stages))
		for _, s := range *p.Stages {
			out.Stages = append(out.Stages, &hlgatev1.Stage{
				Id:             s.ID,
				Name:           s.Name,
				Position:       int32(num(s.Position)),
				ShowInFunnel:   boolean(s.ShowInFunnel),
				ShowInPieChart: boolean(s.ShowInPieChart),
			})
		}
	}
	return out
}

// opportunitySetters write one hlgate.v1 Opportunity field into HighLevel's
// update body, checking it; the create body is transcoded from it (it has
// the same members plus contactId and locationId).
var opportunitySetters = map[string]func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations){
	"name": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		v.required("opportunity.name", o.GetName())
		b.Name = &o.Name
	},
	"monetary_value": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		switch m := o.GetMonetaryValue(); {
		case math.IsNaN(m) || math.IsInf(m, 0):
			v.add("opportunity.monetary_value", "must be a finite number")
		case m < 0:
			v.add("opportunity.monetary_value", "must not be negative")
		}
		b.MonetaryValue = &o.MonetaryValue
	},
	"pipeline_id": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		v.id("opportunity.pipeline_id", o.GetPipelineId())
		b.PipelineID = &o.PipelineId
	},
	"pipeline_stage_id": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		v.id("opportunity.pipeline_stage_id", o.GetPipelineStageId())
		b.PipelineStageID = &o.PipelineStageId
	},
	// An empty assigned_to named by a mask is sent as "": it unassigns.
	"assigned_to": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		v.optionalID("opportunity.assigned_to", o.GetAssignedTo())
		b.AssignedTo = &o.AssignedTo
	},
	"status": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		s, ok := opportunityStatusToHL(o.GetStatus())
		if !ok {
			v.add("opportunity.status", "is required: open, won, lost or abandoned")
			return
		}
		st := highlevel.UpdateOpportunityRequestStatus(s)
		b.Status = &st
	},
	// HighLevel merges the custom fields it is sent into the stored ones by
	// id (the document does not say; the sandbox takes that reading), so an
	// empty list would change nothing: it is refused rather than accepted
	// as a clear that never happens.
	"custom_fields": func(o *hlgatev1.Opportunity, b *highlevel.UpdateOpportunityRequest, v *violations) {
		if len(o.GetCustomFields()) == 0 {
			v.add("opportunity.custom_fields", "is empty: HighLevel cannot remove custom fields, only set values")
			return
		}
		in := customFieldsTo("opportunity.custom_fields", o.GetCustomFields(), v)
		for i, cf := range o.GetCustomFields() {
			// CustomFieldInputArray and CustomFieldInputObject require the
			// id; only a text value may be addressed by key.
			switch cf.GetValue().GetKind().(type) {
			case *structpb.Value_ListValue, *structpb.Value_StructValue:
				if cf.GetId() == "" && cf.GetKey() != "" {
					v.add("opportunity.custom_fields["+strconv.Itoa(i)+"].id", "a list or object value needs the custom field's id (HighLevel takes a key only for text values)")
				}
			}
		}
		out := make([]highlevel.UpdateOpportunityRequest_CustomFields, 0, len(in))
		if err := transcode(in, &out); err != nil {
			v.add("opportunity.custom_fields", "cannot be encoded: %v", err)
			return
		}
		b.CustomFields = &out
	},
}

// opportunityOutputOnly are Opportunity fields HighLevel sets; a write
// ignores them (proto: "Paths of output-only fields are ignored").
var opportunityOutputOnly = map[string]bool{
	"id": true, "location_id": true, "followers": true, "contact": true,
	"last_status_change_at": true, "last_stage_change_at": true, "last_action_date": true,
	"created_at": true, "updated_at": true,
}

// opportunityNotUpdatable explains the writable fields HighLevel's update
// body does not take (api/openapi.yaml UpdateOpportunityRequest).
var opportunityNotUpdatable = map[string]string{
	"source":         "HighLevel cannot change an opportunity's source",
	"contact_id":     "HighLevel cannot move an opportunity to another contact",
	"lost_reason_id": "set it with UpdateOpportunityStatus and status OPPORTUNITY_STATUS_LOST",
}

// opportunityNotCreatable explains the writable fields HighLevel's create
// body does not take (api/openapi.yaml CreateOpportunityRequest).
var opportunityNotCreatable = map[string]string{
	"source":         "HighLevel's create takes no source",
	"lost_reason_id": "HighLevel's create takes no lost reason; set it afterwards with UpdateOpportunityStatus",
}

// opportunityCreateBody validates a CreateOpportunityRequest completely and
// builds HighLevel's create body: every populated writable field, and the
// required ones (name, pipeline_id, status, contact_id) always.
func opportunityCreateBody(req *hlgatev1.CreateOpportunityRequest, v *violations) highlevel.CreateOpportunityRequest {
	v.id("location_id", req.GetLocationId())
	o := req.GetOpportunity()
	if o == nil {
		v.add("opportunity", "is required")
		return highlevel.CreateOpportunityRequest{}
	}
	var up highlevel.UpdateOpportunityRequest
	for _, p := range writePaths(o, nil) {
		switch set, ok := opportunitySetters[p]; {
		case ok:
			set(o, &up, v)
		case p == "contact_id" || opportunityOutputOnly[p]:
		case opportunityNotCreatable[p] != "":
			v.add("opportunity."+p, "%s", opportunityNotCreatable[p])
		default:
			v.add("opportunity."+p, "cannot be written")
		}
	}
	// Required fields left at their default were not visited above.
	if o.GetName() == "" {
		v.add("opportunity.name", "is required")
	}
	if o.GetPipelineId() == "" {
		v.add("opportunity.pipeline_id", "is required")
	}
	if o.GetStatus() == hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_UNSPECIFIED {
		v.add("opportunity.status", "is required: open, won, lost or abandoned")
	}
	v.id("opportunity.contact_id", o.GetContactId())

	var body highlevel.CreateOpportunityRequest
	if len(*v) > 0 {
		return body // values such as an infinite monetary_value cannot be encoded
	}
	if err := transcode(up, &body); err != nil {
		v.add("opportunity", "cannot be encoded: %v", err)
	}
	body.LocationID = req.GetLocationId()
	body.ContactID = o.GetContactId()
	return body
}

// opportunityUpdateBody validates an UpdateOpportunityRequest completely
// and builds HighLevel's update body with only the fields the mask names
// (or, with no mask, the writable fields that are set).
func opportunityUpdateBody(req *hlgatev1.UpdateOpportunityRequest, v *violations) highlevel.UpdateOpportunityRequest {
	v.id("location_id", req.GetLocationId())
	v.id("opportunity_id", req.GetOpportunityId())
	var body highlevel.UpdateOpportunityRequest
	o := req.GetOpportunity()
	if o == nil {
		v.add("opportunity", "is required")
		return body
	}
	explicit := len(req.GetUpdateMask().GetPaths()) > 0
	sent, before := 0, len(*v)
	for _, p := range writePaths(o, req.GetUpdateMask()) {
		p = strings.TrimSpace(p)
		field := "update_mask"
		if !explicit {
			field = "opportunity." + p
		}
		switch set, ok := opportunitySetters[p]; {
		case ok:
			set(o, &body, v)
			sent++
		case opportunityOutputOnly[p]:
		case opportunityNotUpdatable[p] != "":
			v.add(field, "%q cannot be changed by an update: %s", p, opportunityNotUpdatable[p])
		default:
			v.add(field, "%q is not an opportunity field that can be written", p)
		}
	}
	if sent == 0 && len(*v) == before {
		v.add("update_mask", "names no field to change (name, monetary_value, pipeline_id, pipeline_stage_id, assigned_to, status, custom_fields)")
	}
	return body
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
