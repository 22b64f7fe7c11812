package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// A group's status and slug and a schedule's calendars have hand-written
// sandbox behaviour (sandbox/calendar_links.go), so the generated walk
// skips them: they are driven here over gRPC and REST.
func TestGeneratedCalendarGroupStatusSlugAndScheduleCalendars(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	base := "/v1/locations/" + loc + "/calendars"

	group, err := h.calendars.CreateCalendarGroup(ctx, &hlgatev1.CreateCalendarGroupRequest{LocationId: loc,
		Name: proto.String("Sales"), Description: proto.String("The sales team"), Slug: proto.String("sales")})
	if err != nil {
		t.Fatalf("CreateCalendarGroup: %v", err)
	}
	gid := group.GetGroup().GetId()
	isActive := func() bool {
		t.Helper()
		groups, err := h.calendars.GetGroups(ctx, &hlgatev1.GetGroupsRequest{LocationId: loc})
		if err != nil || len(groups.GetGroups()) != 1 {
			t.Fatalf("GetGroups = %v, %v", groups, err)
		}
		return groups.GetGroups()[0].GetIsActive()
	}
	if _, err := h.calendars.DisableGroup(ctx, &hlgatev1.DisableGroupRequest{LocationId: loc, GroupId: gid, IsActive: proto.Bool(false)}); err != nil {
		t.Fatalf("DisableGroup: %v", err)
	}
	if isActive() {
		t.Fatal("the group is active after DisableGroup(is_active: false)")
	}
	restJSON(t, h, http.MethodPut, base+"/groups/"+gid+"/status", `{"isActive":true}`, http.StatusOK)
	if !isActive() {
		t.Fatal("the group is inactive after PUT …/status {isActive: true}")
	}
	// is_active is required: sending nothing is refused before the call.
	before := h.hits.total("")
	if _, err := h.calendars.DisableGroup(ctx, &hlgatev1.DisableGroupRequest{LocationId: loc, GroupId: gid}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("DisableGroup without is_active: %v, want INVALID_ARGUMENT", err)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused request reached the sandbox")
	}

	taken, err := h.calendars.ValidateGroupsSlug(ctx, &hlgatev1.ValidateGroupsSlugRequest{LocationId: loc, Slug: proto.String("sales")})
	if err != nil || taken.Available == nil || taken.GetAvailable() {
		t.Fatalf("ValidateGroupsSlug(sales) = %v, %v; want available false", taken, err)
	}
	if free := restJSON(t, h, http.MethodPost, base+"/groups/validate-slug", `{"slug":"support"}`, http.StatusOK); free["available"] != true {
		t.Fatalf("POST validate-slug support = %v, want available", free)
	}

	cals, err := h.calendars.ListCalendars(ctx, &hlgatev1.ListCalendarsRequest{LocationId: loc})
	if err != nil || len(cals.GetCalendars()) == 0 {
		t.Fatalf("ListCalendars = %v, %v", cals, err)
	}
	cal := cals.GetCalendars()[0].GetId()
	const schedule = "ScheduleOfLinksTest1"
	doc, _ := json.Marshal(map[string]any{"id": schedule, "locationId": loc, "name": "Hours", "calendarIds": []string{}})
	if err := h.sb.PutDocument(loc, "/calendars/schedules", doc); err != nil {
		t.Fatal(err)
	}
	calendarIDs := func() []string {
		t.Helper()
		s, err := h.calendars.GetScheduleById(ctx, &hlgatev1.GetScheduleByIdRequest{LocationId: loc, Id: schedule})
		if err != nil {
			t.Fatalf("GetScheduleById: %v", err)
		}
		return s.GetSchedule().GetCalendarIds()
	}
	if _, err := h.calendars.AddCalendarToSchedule(ctx, &hlgatev1.AddCalendarToScheduleRequest{LocationId: loc, Id: schedule, CalendarId: cal}); err != nil {
		t.Fatalf("AddCalendarToSchedule: %v", err)
	}
	if got := calendarIDs(); len(got) != 1 || got[0] != cal {
		t.Fatalf("the schedule's calendars after the add: %v, want [%s]", got, cal)
	}
	if code, _, body := h.rest(http.MethodPut, base+"/schedules/"+schedule+"/associations/"+cal, "", nil); code != http.StatusBadRequest {
		t.Fatalf("PUT the same association again = %d %s, want 400", code, body)
	}
	restJSON(t, h, http.MethodDelete, base+"/schedules/"+schedule+"/associations/"+cal, "", http.StatusOK)
	if got := calendarIDs(); len(got) != 0 {
		t.Fatalf("the schedule's calendars after the removal: %v", got)
	}
	if _, err := h.calendars.RemoveCalendarFromSchedule(ctx, &hlgatev1.RemoveCalendarFromScheduleRequest{LocationId: loc, Id: schedule, CalendarId: cal}); status.Code(err) != codes.NotFound {
		t.Fatalf("RemoveCalendarFromSchedule of a calendar not on it: %v, want NOT_FOUND", err)
	}
}

// A calendar's resources and notifications are answered as bare JSON
// arrays, which the generic path wraps in the response's list: the
// resources walk to the end through page_token (HighLevel's limit and
// skip) with no duplicate and no gap, and notifications are created from a
// list body.
func TestGeneratedCalendarResourcesAndNotifications(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	base := "/v1/locations/" + loc + "/calendars"

	created := map[string]bool{}
	for i := range 5 {
		var id string
		if i%2 == 0 {
			r, err := h.calendars.CreateCalendarResource(ctx, &hlgatev1.CreateCalendarResourceRequest{LocationId: loc, ResourceType: "rooms",
				Name: proto.String("Room"), Description: proto.String("A room"), Quantity: proto.Float64(1), OutOfService: proto.Float64(0),
				Capacity: proto.Float64(4), CalendarIds: []string{"CalOfTheResources001"}})
			if err != nil {
				t.Fatalf("CreateCalendarResource: %v", err)
			}
			id = r.GetId()
		} else {
			r := restJSON(t, h, http.MethodPost, base+"/resources/rooms",
				`{"name":"Room","description":"A room","quantity":1,"outOfService":0,"capacity":2,"calendarIds":["CalOfTheResources001"]}`, http.StatusOK)
			id, _ = r["id"].(string)
		}
		if id == "" || created[id] {
			t.Fatalf("resource %d: id %q", i, id)
		}
		created[id] = true
	}
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("more pages than resources")
		}
		page, err := h.calendars.FetchCalendarResources(ctx, &hlgatev1.FetchCalendarResourcesRequest{LocationId: loc, ResourceType: "rooms", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatalf("FetchCalendarResources: %v", err)
		}
		if len(page.GetResources()) > 2 {
			t.Fatalf("a page of %d resources, asked for 2", len(page.GetResources()))
		}
		for _, r := range page.GetResources() {
			if seen[r.GetId()] || !created[r.GetId()] || r.GetResourceType() != "rooms" {
				t.Fatalf("resource %v: a duplicate or not created", r)
			}
			seen[r.GetId()] = true
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != len(created) {
		t.Fatalf("walked %d resources, created %d", len(seen), len(created))
	}
	first := restJSON(t, h, http.MethodGet, base+"/resources/rooms?pageSize=3", "", http.StatusOK)
	if rs, _ := first["resources"].([]any); len(rs) != 3 || first["nextPageToken"] == "" {
		t.Fatalf("GET resources page 1 of 3 = %v", first)
	}
	if other := restJSON(t, h, http.MethodGet, base+"/resources/equipments", "", http.StatusOK); other["resources"] != nil {
		t.Fatalf("equipments = %v, want none (the rooms are another collection)", other)
	}

	const cal = "CalOfTheNotifications"
	made, err := h.calendars.CreateEventNotification(ctx, &hlgatev1.CreateEventNotificationRequest{LocationId: loc, CalendarId: cal,
		Notifications: []*hlgatev1.CreateCalendarNotificationDTO{
			{ReceiverType: proto.String("contact"), Channel: proto.String("email"), NotificationType: proto.String("booked")},
			{ReceiverType: proto.String("guest"), Channel: proto.String("email"), NotificationType: proto.String("cancellation")},
		}})
	if err != nil || len(made.GetNotifications()) != 2 {
		t.Fatalf("CreateEventNotification = %v, %v", made, err)
	}
	restJSON(t, h, http.MethodPost, base+"/"+cal+"/notifications", `{"notifications":[{"receiverType":"assignedUser","channel":"email","notificationType":"reschedule"}]}`, http.StatusOK)
	listed := restJSON(t, h, http.MethodGet, base+"/"+cal+"/notifications", "", http.StatusOK)
	if ns, _ := listed["notifications"].([]any); len(ns) != 3 {
		t.Fatalf("GET notifications = %v, want the 3 created", listed)
	}
	// An empty list is refused before anything is sent.
	if _, err := h.calendars.CreateEventNotification(ctx, &hlgatev1.CreateEventNotificationRequest{LocationId: loc, CalendarId: cal}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateEventNotification without notifications: %v, want INVALID_ARGUMENT", err)
	}
}
