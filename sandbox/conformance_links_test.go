package sandbox_test

import (
	"encoding/json"
	"net/url"

	"github.com/hlgate/hlgate/sandbox"
)

// linksWalk runs the contacts' and opportunities' link operations
// (workflows, campaigns, followers, bulk business and tags, a contact's
// appointments and tasks, the opportunity upsert and POST search), each
// with the refusals the stricter reading gives.
func (cf *conformance) linksWalk(L, loc, contactID, pipeID string) {
	t := cf.t
	t.Helper()
	c := "/contacts/" + contactID
	if err := cf.e.sb.PutDocument(L, "/workflows", json.RawMessage(`{"id":"WorkflowConformance1","name":"Welcome","status":"published","locationId":"`+L+`"}`)); err != nil {
		t.Fatal(err)
	}
	wf := c + "/workflow/WorkflowConformance1"
	cf.run(confCase{name: "enrol", method: "POST", path: wf, token: loc, status: 200, json: map[string]any{"eventStartTime": "2026-04-15T09:00:00+02:00"}})
	cf.run(confCase{name: "enrol again", method: "POST", path: wf, token: loc, status: 400, json: map[string]any{}})
	cf.run(confCase{name: "enrol bad start", method: "POST", path: "/contacts/" + contactID + "/workflow/WorkflowConformance1", token: loc, status: 422, json: map[string]any{"eventStartTime": "tomorrow"}})
	cf.run(confCase{name: "enrol unknown workflow", method: "POST", path: c + "/workflow/nope", token: loc, status: 404, json: map[string]any{}})
	cf.run(confCase{name: "enrol unknown contact", method: "POST", path: "/contacts/nope/workflow/WorkflowConformance1", token: loc, status: 404, json: map[string]any{}})
	cf.run(confCase{name: "unenrol", method: "DELETE", path: wf, token: loc, status: 200, json: map[string]any{}})
	cf.run(confCase{name: "unenrol again", method: "DELETE", path: wf, token: loc, status: 404, json: map[string]any{}})

	camp := c + "/campaigns/CampaignConformance1"
	cf.run(confCase{name: "add to campaign", method: "POST", path: camp, token: loc, status: 201, json: map[string]any{}})
	cf.run(confCase{name: "add to campaign again", method: "POST", path: camp, token: loc, status: 400, json: map[string]any{}})
	cf.run(confCase{name: "add to campaign with a member", method: "POST", path: camp, token: loc, status: 422, badRequest: true, json: map[string]any{"x": 1}})
	cf.run(confCase{name: "remove from campaign", method: "DELETE", path: camp, token: loc, status: 200})
	cf.run(confCase{name: "remove from campaign again", method: "DELETE", path: camp, token: loc, status: 404})
	cf.run(confCase{name: "remove from every campaign", method: "DELETE", path: c + "/campaigns/removeAll", token: loc, status: 200})

	cf.run(confCase{name: "add followers", method: "POST", path: c + "/followers", token: loc, status: 201, json: map[string]any{"followers": []string{"UserConformance00001", "UserConformance00002"}}})
	cf.run(confCase{name: "add followers missing", method: "POST", path: c + "/followers", token: loc, status: 422, badRequest: true, json: map[string]any{}})
	cf.run(confCase{name: "remove followers", method: "DELETE", path: c + "/followers", token: loc, status: 200, json: map[string]any{"followers": []string{"UserConformance00001"}}})

	cf.run(confCase{name: "business", method: "POST", path: "/contacts/bulk/business", token: loc, status: 200,
		json: map[string]any{"locationId": L, "ids": []string{contactID}, "businessId": "BusinessConformance1"}})
	cf.run(confCase{name: "business other location", method: "POST", path: "/contacts/bulk/business", token: loc, status: 403,
		json: map[string]any{"locationId": sandbox.OtherLocationID, "ids": []string{contactID}, "businessId": nil}})
	cf.run(confCase{name: "contacts of a business", method: "GET", path: "/contacts/business/BusinessConformance1?locationId=" + L + "&limit=10", token: loc, status: 200})
	cf.run(confCase{name: "bulk tags", method: "POST", path: "/contacts/bulk/tags/update/add", token: loc, status: 201,
		json: map[string]any{"locationId": L, "contacts": []string{contactID, "nope"}, "tags": []string{"bulk"}}})
	cf.run(confCase{name: "bulk tags bad type", method: "POST", path: "/contacts/bulk/tags/update/toggle", token: loc, status: 422, badRequest: true,
		json: map[string]any{"locationId": L, "contacts": []string{contactID}, "tags": []string{"bulk"}}})
	cf.run(confCase{name: "bulk tags remove all with add", method: "POST", path: "/contacts/bulk/tags/update/add", token: loc, status: 422,
		json: map[string]any{"locationId": L, "contacts": []string{contactID}, "tags": []string{}, "removeAllTags": true}})
	cf.run(confCase{name: "duplicate by email", method: "GET", path: "/contacts/search/duplicate?locationId=" + L + "&email=" + url.QueryEscape(cf.contactEmail(loc, contactID)), token: loc, status: 200})
	cf.run(confCase{name: "no duplicate", method: "GET", path: "/contacts/search/duplicate?locationId=" + L + "&number=%2B10000000000", token: loc, status: 200})
	cf.run(confCase{name: "duplicate by nothing", method: "GET", path: "/contacts/search/duplicate?locationId=" + L, token: loc, status: 422})
	cf.run(confCase{name: "appointments of a contact", method: "GET", path: c + "/appointments", token: loc, status: 200})
	if err := cf.e.sb.PutDocument(L, c+"/tasks", json.RawMessage(`{"id":"TaskConformance00001","title":"Call","completed":false,"contactId":"`+contactID+`"}`)); err != nil {
		t.Fatal(err)
	}
	cf.run(confCase{name: "task completed", method: "PUT", path: c + "/tasks/TaskConformance00001/completed", token: loc, status: 200, json: map[string]any{"completed": true}})
	cf.run(confCase{name: "task completed unknown", method: "PUT", path: c + "/tasks/nope/completed", token: loc, status: 404, json: map[string]any{"completed": true}})

	up := cf.run(confCase{name: "upsert opportunity new", method: "POST", path: "/opportunities/upsert", token: loc, status: 200,
		json: map[string]any{"pipelineId": pipeID, "locationId": L, "name": "Upserted", "followers": []string{"UserConformance00001"}, "isRemoveAllFollowers": false, "followersActionType": "add", "monetaryValue": 220}})
	upID := str(up, "opportunity", "id")
	cf.run(confCase{name: "upsert opportunity existing", method: "POST", path: "/opportunities/upsert", token: loc, status: 200,
		json: map[string]any{"id": upID, "pipelineId": pipeID, "locationId": L, "status": "won", "followers": []string{}, "isRemoveAllFollowers": true, "followersActionType": "add"}})
	cf.run(confCase{name: "upsert opportunity unknown id", method: "POST", path: "/opportunities/upsert", token: loc, status: 404,
		json: map[string]any{"id": "nope", "pipelineId": pipeID, "locationId": L, "followers": []string{}, "isRemoveAllFollowers": false, "followersActionType": "add"}})
	cf.run(confCase{name: "upsert opportunity missing", method: "POST", path: "/opportunities/upsert", token: loc, status: 422, badRequest: true,
		json: map[string]any{"pipelineId": pipeID, "locationId": L}})
	cf.run(confCase{name: "opportunity followers", method: "POST", path: "/opportunities/" + upID + "/followers", token: loc, status: 201, json: map[string]any{"followers": []string{"UserConformance00002"}}})
	cf.run(confCase{name: "opportunity followers removed", method: "DELETE", path: "/opportunities/" + upID + "/followers?isRemoveAllFollowers=true", token: loc, status: 200, json: map[string]any{"followers": []string{}}})
	cf.run(confCase{name: "opportunity search", method: "POST", path: "/opportunities/search", token: loc, status: 200,
		json: map[string]any{"locationId": L, "query": "", "limit": 2, "page": 1, "additionalDetails": map[string]any{"notes": true, "tasks": true, "calendarEvents": false, "unReadConversations": false}}})
	cf.run(confCase{name: "opportunity search without details", method: "POST", path: "/opportunities/search", token: loc, status: 422, badRequest: true,
		json: map[string]any{"locationId": L, "query": "", "limit": 2, "page": 1}})
}

// contactEmail reads a contact's email.
func (cf *conformance) contactEmail(loc, contactID string) string {
	got := cf.run(confCase{name: "contact for its email", method: "GET", path: "/contacts/" + contactID, token: loc, status: 200})
	return str(got, "contact", "email")
}
