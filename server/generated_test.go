package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// The generated services (tools/opgen, gen/genservices) are served by the
// generic path end to end: each RPC is called over gRPC and over REST
// against the sandbox, which validates every request against the document.

// restJSON calls the REST gateway and decodes the JSON answer.
func restJSON(t *testing.T, h *harness, method, path, body string, want int) map[string]any {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	} else {
		r = strings.NewReader("")
	}
	code, _, b := h.rest(method, path, "", r)
	if code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, code, b, want)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
	return out
}

func TestGeneratedLocationTags(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	c := hlgatev1.NewLocationsServiceClient(h.conn)

	created, err := c.CreateTag(ctx, &hlgatev1.CreateTagRequest{LocationId: loc, Name: proto.String("vip")})
	if err != nil || created.GetTag().GetId() == "" || created.GetTag().GetName() != "vip" {
		t.Fatalf("CreateTag = %v, %v", created, err)
	}
	id := created.GetTag().GetId()
	got := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/tags/"+id, "", http.StatusOK)
	if tag, _ := got["tag"].(map[string]any); tag["name"] != "vip" {
		t.Fatalf("GET tag = %v", got)
	}
	if _, err := c.UpdateTag(ctx, &hlgatev1.UpdateTagRequest{LocationId: loc, TagId: id, Name: proto.String("vip-2")}); err != nil {
		t.Fatalf("UpdateTag: %v", err)
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/tags/"+id, `{"name":"vip-3"}`, http.StatusOK)
	one, err := c.GetTagById(ctx, &hlgatev1.GetTagByIdRequest{LocationId: loc, TagId: id})
	if err != nil || one.GetTag().GetName() != "vip-3" {
		t.Fatalf("GetTagById after the updates = %v, %v", one, err)
	}
	list, err := c.GetLocationTags(ctx, &hlgatev1.GetLocationTagsRequest{LocationId: loc})
	if err != nil || len(list.GetTags()) != 1 || list.GetTags()[0].GetId() != id {
		t.Fatalf("GetLocationTags = %v, %v", list, err)
	}
	listed := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/tags", "", http.StatusOK)
	if tags, _ := listed["tags"].([]any); len(tags) != 1 {
		t.Fatalf("GET tags = %v", listed)
	}
	if _, err := c.DeleteTag(ctx, &hlgatev1.DeleteTagRequest{LocationId: loc, TagId: id}); err != nil {
		t.Fatalf("DeleteTag: %v", err)
	}
	if _, err := c.GetTagById(ctx, &hlgatev1.GetTagByIdRequest{LocationId: loc, TagId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetTagById after delete: %v, want NOT_FOUND", err)
	}
	// The document's required name is checked before anything is sent.
	before := h.hits.total("")
	_, err = c.CreateTag(ctx, &hlgatev1.CreateTagRequest{LocationId: loc})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "name") {
		t.Fatalf("CreateTag without name: %v, want INVALID_ARGUMENT naming name", err)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused CreateTag reached HighLevel")
	}
	code, _, body := h.rest(http.MethodPost, "/v1/locations/"+loc+"/tags", "", strings.NewReader(`{}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "name") {
		t.Fatalf("POST tags without name = %d %s, want 400 naming name", code, body)
	}
}

// Caller auth holds for the generated services as for the hand-written
// ones: the access level comes from the table, the location from the
// request, and nothing refused reaches HighLevel.
func TestGeneratedServicesCheckTheCaller(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	loc := sandbox.DemoLocationID
	c := hlgatev1.NewLocationsServiceClient(h.conn)
	if _, err := c.GetLocationTags(h.ctx(readKey), &hlgatev1.GetLocationTagsRequest{LocationId: loc}); err != nil {
		t.Fatalf("a read key reading its location's tags: %v", err)
	}
	before := h.hits.total("")
	if _, err := c.CreateTag(h.ctx(readKey), &hlgatev1.CreateTagRequest{LocationId: loc, Name: proto.String("x")}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a read key creating a tag: %v, want PERMISSION_DENIED", err)
	}
	if _, err := c.GetLocationTags(h.ctx(writeKey), &hlgatev1.GetLocationTagsRequest{LocationId: sandbox.OtherLocationID}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a key of the demo location reading another's tags: %v, want PERMISSION_DENIED", err)
	}
	if _, err := hlgatev1.NewWorkflowsServiceClient(h.conn).GetWorkflow(h.ctx(""), &hlgatev1.GetWorkflowRequest{LocationId: loc}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: %v, want UNAUTHENTICATED", err)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused call reached HighLevel")
	}
}

func TestGeneratedCustomValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	c := hlgatev1.NewLocationsServiceClient(h.conn)

	created := restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/customValues", `{"name":"Brand","value":"Acme"}`, http.StatusOK)
	cv, _ := created["customValue"].(map[string]any)
	id, _ := cv["id"].(string)
	if id == "" || cv["value"] != "Acme" {
		t.Fatalf("POST customValues = %v", created)
	}
	got, err := c.GetCustomValue(ctx, &hlgatev1.GetCustomValueRequest{LocationId: loc, Id: id})
	if err != nil || got.GetCustomValue().GetName() != "Brand" || got.GetCustomValue().GetLocationId() != loc {
		t.Fatalf("GetCustomValue = %v, %v", got, err)
	}
	restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/customValues/"+id, "", http.StatusOK)
	if _, err := c.UpdateCustomValue(ctx, &hlgatev1.UpdateCustomValueRequest{LocationId: loc, Id: id, Name: proto.String("Brand"), Value: proto.String("Acme Inc")}); err != nil {
		t.Fatalf("UpdateCustomValue: %v", err)
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/customValues/"+id, `{"name":"Brand","value":"Acme Ltd"}`, http.StatusOK)
	if _, err := c.CreateCustomValue(ctx, &hlgatev1.CreateCustomValueRequest{LocationId: loc, Name: proto.String("Motto"), Value: proto.String("Fast")}); err != nil {
		t.Fatalf("CreateCustomValue: %v", err)
	}
	list, err := c.GetCustomValues(ctx, &hlgatev1.GetCustomValuesRequest{LocationId: loc})
	if err != nil || len(list.GetCustomValues()) != 2 {
		t.Fatalf("GetCustomValues = %v, %v", list, err)
	}
	for _, v := range list.GetCustomValues() {
		if v.GetId() == id && v.GetValue() != "Acme Ltd" {
			t.Fatalf("custom value after the REST update = %v", v)
		}
	}
	listed := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/customValues", "", http.StatusOK)
	if vs, _ := listed["customValues"].([]any); len(vs) != 2 {
		t.Fatalf("GET customValues = %v", listed)
	}
	restJSON(t, h, http.MethodDelete, "/v1/locations/"+loc+"/customValues/"+id, "", http.StatusOK)
	other := list.GetCustomValues()[0].GetId()
	if other == id {
		other = list.GetCustomValues()[1].GetId()
	}
	if _, err := c.DeleteCustomValue(ctx, &hlgatev1.DeleteCustomValueRequest{LocationId: loc, Id: other}); err != nil {
		t.Fatalf("DeleteCustomValue: %v", err)
	}
	if _, err := c.GetCustomValue(ctx, &hlgatev1.GetCustomValueRequest{LocationId: loc, Id: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetCustomValue after the REST delete: %v, want NOT_FOUND", err)
	}
}

func TestGeneratedRecurringTasks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	c := hlgatev1.NewLocationsServiceClient(h.conn)

	rule := &hlgatev1.CustomRRulesOptions{IntervalType: proto.String("daily"), Interval: proto.Float64(1), StartDate: proto.String("2026-12-01T09:00:00.000Z"), DueAfterSeconds: proto.Float64(3600)}
	created, err := c.CreateRecurringTask(ctx, &hlgatev1.CreateRecurringTaskRequest{LocationId: loc, Title: proto.String("Call back"), RruleOptions: rule, Owners: []string{"User1"}})
	if err != nil || created.GetRecurringTask().GetId() == "" {
		t.Fatalf("CreateRecurringTask = %v, %v", created, err)
	}
	id := created.GetRecurringTask().GetId()
	got := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/recurring-tasks/"+id, "", http.StatusOK)
	task, _ := got["recurringTask"].(map[string]any)
	if task["title"] != "Call back" {
		t.Fatalf("GET recurring task = %v", got)
	}
	// A number the document declares reaches HighLevel as a JSON number.
	if r, _ := task["rruleOptions"].(map[string]any); r["interval"] != 1.0 || r["intervalType"] != "daily" {
		t.Fatalf("rruleOptions = %v", task["rruleOptions"])
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/recurring-tasks/"+id,
		`{"title":"Call back soon","rruleOptions":{"intervalType":"daily","interval":2,"startDate":"2026-12-01T09:00:00.000Z","dueAfterSeconds":600}}`, http.StatusOK)
	if _, err := c.UpdateRecurringTask(ctx, &hlgatev1.UpdateRecurringTaskRequest{LocationId: loc, Id: id, Title: proto.String("Call back today"), RruleOptions: rule}); err != nil {
		t.Fatalf("UpdateRecurringTask: %v", err)
	}
	one, err := c.GetRecurringTaskById(ctx, &hlgatev1.GetRecurringTaskByIdRequest{LocationId: loc, Id: id})
	if err != nil || one.GetRecurringTask().GetTitle() != "Call back today" {
		t.Fatalf("GetRecurringTaskById = %v, %v", one, err)
	}
	if _, err := c.DeleteRecurringTask(ctx, &hlgatev1.DeleteRecurringTaskRequest{LocationId: loc, Id: id}); err != nil {
		t.Fatalf("DeleteRecurringTask: %v", err)
	}
	code, _, body := h.rest(http.MethodDelete, "/v1/locations/"+loc+"/recurring-tasks/"+id, "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted recurring task = %d %s, want 404", code, body)
	}
}

func TestGeneratedWorkflows(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	for _, w := range []string{
		`{"id":"Wf1","name":"Welcome","status":"published","version":3,"locationId":"` + loc + `","trigger":"contact_created"}`,
		`{"id":"Wf2","name":"Nurture","status":"draft","version":"2","locationId":"` + loc + `"}`,
	} {
		if err := h.sb.PutDocument(loc, "/workflows", json.RawMessage(w)); err != nil {
			t.Fatal(err)
		}
	}
	c := hlgatev1.NewWorkflowsServiceClient(h.conn)
	list, err := c.GetWorkflow(ctx, &hlgatev1.GetWorkflowRequest{LocationId: loc})
	if err != nil || len(list.GetWorkflows()) != 2 {
		t.Fatalf("GetWorkflow = %v, %v", list, err)
	}
	first, second := list.GetWorkflows()[0], list.GetWorkflows()[1]
	// An undeclared key and a value of another type than the document's
	// reach the caller in unmapped.
	if first.GetVersion() != 3 || first.GetUnmapped().GetFields()["trigger"].GetStringValue() != "contact_created" {
		t.Fatalf("workflow 1 = %v", first)
	}
	if second.GetUnmapped().GetFields()["version"].GetStringValue() != "2" {
		t.Fatalf("workflow 2 = %v, want its string version kept in unmapped", second)
	}
	listed := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/workflows", "", http.StatusOK)
	if ws, _ := listed["workflows"].([]any); len(ws) != 2 {
		t.Fatalf("GET workflows = %v", listed)
	}
}

// A contact's tasks and notes, generated beside ContactsService's
// hand-written RPCs. A task created not completed sends completed false:
// a generated scalar has presence, so a zero value the caller sets is sent
// (and satisfies the document's required completed).
func TestGeneratedContactTasksAndNotes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	contact := firstContactID(t, h)
	task, err := h.contacts.CreateTask(ctx, &hlgatev1.CreateTaskRequest{LocationId: loc, ContactId: contact,
		Title: proto.String("Call"), DueDate: proto.String("2026-12-24T10:00:00.000Z"), Completed: proto.Bool(false)})
	if err != nil || task.GetTask().GetId() == "" || task.GetTask().Completed == nil || task.GetTask().GetCompleted() {
		t.Fatalf("CreateTask = %v, %v", task, err)
	}
	id := task.GetTask().GetId()
	base := "/v1/locations/" + loc + "/contacts/" + contact + "/tasks"
	got := restJSON(t, h, http.MethodGet, base+"/"+id, "", http.StatusOK)
	if tk, _ := got["task"].(map[string]any); tk["completed"] != false || tk["title"] != "Call" {
		t.Fatalf("GET task = %v", got)
	}
	restJSON(t, h, http.MethodPut, base+"/"+id, `{"title":"Call back","dueDate":"2026-12-24T10:00:00.000Z","completed":true}`, http.StatusOK)
	one, err := h.contacts.GetTask(ctx, &hlgatev1.GetTaskRequest{LocationId: loc, ContactId: contact, TaskId: id})
	if err != nil || one.GetTask().GetTitle() != "Call back" || !one.GetTask().GetCompleted() {
		t.Fatalf("GetTask = %v, %v", one, err)
	}
	if _, err := h.contacts.UpdateTask(ctx, &hlgatev1.UpdateTaskRequest{LocationId: loc, ContactId: contact, TaskId: id,
		Title: proto.String("Call back soon"), DueDate: proto.String("2026-12-25T10:00:00.000Z"), Completed: proto.Bool(false)}); err != nil {
		t.Fatalf("UpdateTask: %v", err)
	}
	all, err := h.contacts.GetAllTasks(ctx, &hlgatev1.GetAllTasksRequest{LocationId: loc, ContactId: contact})
	if err != nil || len(all.GetTasks()) != 1 || all.GetTasks()[0].GetCompleted() {
		t.Fatalf("GetAllTasks = %v, %v", all, err)
	}
	if l := restJSON(t, h, http.MethodGet, base, "", http.StatusOK); len(l["tasks"].([]any)) != 1 {
		t.Fatalf("GET tasks = %v", l)
	}
	if _, err := h.contacts.DeleteTask(ctx, &hlgatev1.DeleteTaskRequest{LocationId: loc, ContactId: contact, TaskId: id}); err != nil {
		t.Fatalf("DeleteTask: %v", err)
	}
	code, _, body := h.rest(http.MethodDelete, base+"/"+id, "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted task = %d %s", code, body)
	}

	notes := "/v1/locations/" + loc + "/contacts/" + contact + "/notes"
	created := restJSON(t, h, http.MethodPost, notes, `{"body":"met at the fair","pinned":false}`, http.StatusOK)
	n, _ := created["note"].(map[string]any)
	noteID, _ := n["id"].(string)
	if noteID == "" {
		t.Fatalf("POST note = %v", created)
	}
	note, err := h.contacts.GetNote(ctx, &hlgatev1.GetNoteRequest{LocationId: loc, ContactId: contact, Id: noteID})
	if err != nil || note.GetNote().GetBody() != "met at the fair" {
		t.Fatalf("GetNote = %v, %v", note, err)
	}
	restJSON(t, h, http.MethodGet, notes+"/"+noteID, "", http.StatusOK)
	if _, err := h.contacts.UpdateNote(ctx, &hlgatev1.UpdateNoteRequest{LocationId: loc, ContactId: contact, Id: noteID, Body: proto.String("met at the fair, twice")}); err != nil {
		t.Fatalf("UpdateNote: %v", err)
	}
	restJSON(t, h, http.MethodPut, notes+"/"+noteID, `{"body":"met three times"}`, http.StatusOK)
	if _, err := h.contacts.CreateNote(ctx, &hlgatev1.CreateNoteRequest{LocationId: loc, ContactId: contact, Body: proto.String("second")}); err != nil {
		t.Fatalf("CreateNote: %v", err)
	}
	// The hand-written list reads what the generated writes wrote.
	listed, err := h.contacts.ListContactNotes(ctx, &hlgatev1.ListContactNotesRequest{LocationId: loc, ContactId: contact})
	if err != nil || len(listed.GetNotes()) != 2 {
		t.Fatalf("ListContactNotes = %v, %v", listed, err)
	}
	restJSON(t, h, http.MethodDelete, notes+"/"+noteID, "", http.StatusOK)
	if _, err := h.contacts.DeleteNote(ctx, &hlgatev1.DeleteNoteRequest{LocationId: loc, ContactId: contact, Id: noteID}); status.Code(err) != codes.NotFound {
		t.Fatalf("DeleteNote of a deleted note: %v, want NOT_FOUND", err)
	}
}

// Calendar groups, and an appointment's notes walked page by page.
func TestGeneratedCalendarGroupsAndAppointmentNotes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	group, err := h.calendars.CreateCalendarGroup(ctx, &hlgatev1.CreateCalendarGroupRequest{LocationId: loc,
		Name: proto.String("Sales"), Description: proto.String("The sales team"), Slug: proto.String("sales")})
	if err != nil || group.GetGroup().GetId() == "" {
		t.Fatalf("CreateCalendarGroup = %v, %v", group, err)
	}
	gid := group.GetGroup().GetId()
	groups, err := h.calendars.GetGroups(ctx, &hlgatev1.GetGroupsRequest{LocationId: loc})
	if err != nil || len(groups.GetGroups()) != 1 || groups.GetGroups()[0].GetSlug() != "sales" {
		t.Fatalf("GetGroups = %v, %v", groups, err)
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/calendars/groups/"+gid, `{"name":"Sales EU","description":"The EU team","slug":"sales-eu"}`, http.StatusOK)
	if _, err := h.calendars.EditGroup(ctx, &hlgatev1.EditGroupRequest{LocationId: loc, GroupId: gid,
		Name: proto.String("Sales"), Description: proto.String("All"), Slug: proto.String("sales")}); err != nil {
		t.Fatalf("EditGroup: %v", err)
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/calendars/groups", "", http.StatusOK); len(l["groups"].([]any)) != 1 {
		t.Fatalf("GET groups = %v", l)
	}
	restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/calendars/groups", `{"name":"Support","description":"Help","slug":"support"}`, http.StatusOK)
	if _, err := h.calendars.DeleteGroup(ctx, &hlgatev1.DeleteGroupRequest{LocationId: loc, GroupId: gid}); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	code, _, body := h.rest(http.MethodDelete, "/v1/locations/"+loc+"/calendars/groups/"+gid, "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted group = %d %s", code, body)
	}

	appt := "ApptOfTheNotesTest01"
	base := "/v1/locations/" + loc + "/calendars/appointments/" + appt + "/notes"
	want := map[string]bool{}
	for i, text := range []string{"one", "two", "three", "four", "five"} {
		var id string
		if i%2 == 0 {
			n, err := h.calendars.CreateAppointmentNote(ctx, &hlgatev1.CreateAppointmentNoteRequest{LocationId: loc, AppointmentId: appt, Body: proto.String(text)})
			if err != nil {
				t.Fatalf("CreateAppointmentNote: %v", err)
			}
			id = n.GetNote().GetId()
		} else {
			n := restJSON(t, h, http.MethodPost, base, `{"body":"`+text+`"}`, http.StatusOK)
			id, _ = n["note"].(map[string]any)["id"].(string)
		}
		if id == "" {
			t.Fatalf("note %q has no id", text)
		}
		want[id] = true
	}
	seen := map[string]bool{}
	req := &hlgatev1.GetAppointmentNotesRequest{LocationId: loc, AppointmentId: appt, PageSize: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the walk does not end")
		}
		page, err := h.calendars.GetAppointmentNotes(ctx, req)
		if err != nil {
			t.Fatalf("GetAppointmentNotes: %v", err)
		}
		for _, n := range page.GetNotes() {
			if seen[n.GetId()] {
				t.Fatalf("note %s on two pages", n.GetId())
			}
			seen[n.GetId()] = true
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	if len(seen) != len(want) {
		t.Fatalf("the walk saw %d notes, want %d", len(seen), len(want))
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("the walk missed note %s", id)
		}
	}
	first := restJSON(t, h, http.MethodGet, base+"?pageSize=2", "", http.StatusOK)
	if ns, _ := first["notes"].([]any); len(ns) != 2 || first["nextPageToken"] == "" {
		t.Fatalf("GET notes page = %v", first)
	}
	var one string
	for id := range want {
		one = id
		break
	}
	if _, err := h.calendars.UpdateAppointmentNote(ctx, &hlgatev1.UpdateAppointmentNoteRequest{LocationId: loc, AppointmentId: appt, NoteId: one, Body: proto.String("edited")}); err != nil {
		t.Fatalf("UpdateAppointmentNote: %v", err)
	}
	restJSON(t, h, http.MethodPut, base+"/"+one, `{"body":"edited again"}`, http.StatusOK)
	restJSON(t, h, http.MethodDelete, base+"/"+one, "", http.StatusOK)
	if _, err := h.calendars.DeleteAppointmentNote(ctx, &hlgatev1.DeleteAppointmentNoteRequest{LocationId: loc, AppointmentId: appt, NoteId: one}); status.Code(err) != codes.NotFound {
		t.Fatalf("DeleteAppointmentNote of a deleted note: %v, want NOT_FOUND", err)
	}
}

// A location's users and the location itself, read; a calendar's slot
// blocked and moved.
func TestGeneratedUsersLocationAndBlockedSlots(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	if err := h.sb.PutDocument(loc, "/users", json.RawMessage(`{"id":"User00000000000001","name":"Ada L","firstName":"Ada","email":"ada@example.com","roles":{"type":"account","role":"admin"},"badge":7}`)); err != nil {
		t.Fatal(err)
	}
	users := hlgatev1.NewUsersServiceClient(h.conn)
	list, err := users.GetUserByLocation(ctx, &hlgatev1.GetUserByLocationRequest{LocationId: loc})
	if err != nil || len(list.GetUsers()) != 1 || list.GetUsers()[0].GetRoles().GetRole() != "admin" {
		t.Fatalf("GetUserByLocation = %v, %v", list, err)
	}
	one, err := users.GetUser(ctx, &hlgatev1.GetUserRequest{LocationId: loc, UserId: "User00000000000001"})
	if err != nil || one.GetFirstName() != "Ada" || one.GetUnmapped().GetFields()["badge"].GetNumberValue() != 7 {
		t.Fatalf("GetUser = %v, %v", one, err)
	}
	if u := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/users/User00000000000001", "", http.StatusOK); u["email"] != "ada@example.com" {
		t.Fatalf("GET user = %v", u)
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/users", "", http.StatusOK); len(l["users"].([]any)) != 1 {
		t.Fatalf("GET users = %v", l)
	}

	self, err := hlgatev1.NewLocationsServiceClient(h.conn).GetLocation(ctx, &hlgatev1.GetLocationRequest{LocationId: loc})
	if err != nil || self.GetLocation().GetId() != loc {
		t.Fatalf("GetLocation = %v, %v", self, err)
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc, "", http.StatusOK); l["location"].(map[string]any)["id"] != loc {
		t.Fatalf("GET location = %v", l)
	}

	cal := h.calendars
	slot, err := cal.CreateBlockSlot(ctx, &hlgatev1.CreateBlockSlotRequest{LocationId: loc, CalendarId: proto.String("CalBlocked0000000001"),
		Title: proto.String("Lunch"), StartTime: proto.String("2026-12-24T12:00:00+00:00"), EndTime: proto.String("2026-12-24T13:00:00+00:00")})
	if err != nil || slot.GetId() == "" || slot.GetStartTime() != "2026-12-24T12:00:00+00:00" {
		t.Fatalf("CreateBlockSlot = %v, %v", slot, err)
	}
	moved, err := cal.EditBlockSlot(ctx, &hlgatev1.EditBlockSlotRequest{LocationId: loc, EventId: slot.GetId(), CalendarId: proto.String("CalBlocked0000000001"),
		StartTime: proto.String("2026-12-24T13:00:00+00:00"), EndTime: proto.String("2026-12-24T14:00:00+00:00")})
	if err != nil || moved.GetStartTime() != "2026-12-24T13:00:00+00:00" || moved.GetTitle() != "Lunch" {
		t.Fatalf("EditBlockSlot = %v, %v", moved, err)
	}
	created := restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/calendars/events/block-slots",
		`{"calendarId":"CalBlocked0000000001","title":"Gym","startTime":"2026-12-24T17:00:00+00:00","endTime":"2026-12-24T18:00:00+00:00"}`, http.StatusOK)
	id, _ := created["id"].(string)
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/calendars/events/block-slots/"+id,
		`{"calendarId":"CalBlocked0000000001","title":"Gym, later"}`, http.StatusOK)
}

// Invoices and their templates: the location is sent as altId with altType
// location, and lists walk to the end through page_token.
func TestGeneratedInvoices(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	inv := hlgatev1.NewInvoicesServiceClient(h.conn)
	items := []*hlgatev1.InvoiceItemDto{{Name: proto.String("Setup"), Currency: proto.String("USD"), Amount: proto.Float64(250), Qty: proto.Float64(1)}}
	business := &hlgatev1.BusinessDetailsDto{Name: proto.String("Acme")}
	create := func(name string) string {
		t.Helper()
		r, err := inv.CreateInvoice(ctx, newTestInvoiceRequest(loc, name))
		if err != nil || r.GetId() == "" || r.GetAltId() != loc || r.GetLiveMode() {
			t.Fatalf("CreateInvoice(%s) = %v, %v", name, r, err)
		}
		return r.GetId()
	}
	ids := []string{create("first"), create("second")}
	rest := restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/invoices",
		`{"altType":"location","name":"third","businessDetails":{"name":"Acme"},"currency":"USD","items":[{"name":"Setup","currency":"USD","amount":250,"qty":1}],`+
			`"discount":{"type":"percentage","value":0},"contactDetails":{"id":"Contact0000000000001","name":"Alex","phoneNo":"+15550100","email":"alex@example.com"},"issueDate":"2026-12-01","sentTo":{"email":["alex@example.com"]},"liveMode":false}`, http.StatusOK)
	third, _ := rest["_id"].(string)
	if third == "" || rest["altId"] != loc {
		t.Fatalf("POST invoice = %v", rest)
	}
	ids = append(ids, third)

	seen := walkIDs(t, 5, 3, func(token string) ([]string, string, int32, error) {
		page, err := inv.ListInvoices(ctx, &hlgatev1.ListInvoicesRequest{LocationId: loc, PageSize: 2, PageToken: token})
		var ids []string
		for _, r := range page.GetInvoices() {
			ids = append(ids, r.GetId())
		}
		return ids, page.GetNextPageToken(), page.GetTotalSize(), err
	})
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("the walk missed invoice %s (saw %v)", id, seen)
		}
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/invoices?pageSize=10", "", http.StatusOK); len(l["invoices"].([]any)) != 3 {
		t.Fatalf("GET invoices = %v", l)
	}
	got, err := inv.GetInvoice(ctx, &hlgatev1.GetInvoiceRequest{LocationId: loc, InvoiceId: ids[0]})
	if err != nil || got.GetName() != "first" {
		t.Fatalf("GetInvoice = %v, %v", got, err)
	}
	restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/invoices/"+ids[1], "", http.StatusOK)
	if _, err := inv.UpdateInvoice(ctx, &hlgatev1.UpdateInvoiceRequest{LocationId: loc, InvoiceId: ids[0], AltType: proto.String("location"), Name: proto.String("first, renamed"),
		Currency: proto.String("USD"), InvoiceItems: items, IssueDate: proto.String("2026-12-01"), DueDate: proto.String("2026-12-15")}); err != nil {
		t.Fatalf("UpdateInvoice: %v", err)
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/invoices/"+ids[1],
		`{"altType":"location","name":"second, renamed","currency":"USD","invoiceItems":[{"name":"Setup","currency":"USD","amount":250,"qty":1}],"issueDate":"2026-12-01","dueDate":"2026-12-15"}`, http.StatusOK)
	if _, err := inv.DeleteInvoice(ctx, &hlgatev1.DeleteInvoiceRequest{LocationId: loc, InvoiceId: ids[0]}); err != nil {
		t.Fatalf("DeleteInvoice: %v", err)
	}
	restJSON(t, h, http.MethodDelete, "/v1/locations/"+loc+"/invoices/"+ids[1], "", http.StatusOK)
	// The document's required members of the body are checked before
	// anything is sent.
	before := h.hits.total("")
	if _, err := inv.CreateInvoice(ctx, &hlgatev1.CreateInvoiceRequest{LocationId: loc, Name: proto.String("x")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateInvoice without its required members: %v, want INVALID_ARGUMENT", err)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused CreateInvoice reached HighLevel")
	}
	// So are those of the messages it holds: an item without its amount
	// is named by its place in the list.
	noAmount := newTestInvoiceRequest(loc, "no amount")
	noAmount.Items = append(noAmount.Items, &hlgatev1.InvoiceItemDto{Name: proto.String("Extra"), Currency: proto.String("USD"), Qty: proto.Float64(1)})
	_, err = inv.CreateInvoice(ctx, noAmount)
	wantFieldViolation(t, status.Convert(err), "items[1].amount")
	restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/invoices",
		`{"altType":"location","name":"no qty","businessDetails":{"name":"Acme"},"currency":"USD","items":[{"name":"Setup","currency":"USD","amount":250}],"discount":{"type":"percentage","value":0},"contactDetails":{"id":"Contact0000000000001","name":"Alex"},"issueDate":"2026-12-01","sentTo":{"email":["alex@example.com"]},"liveMode":false}`, http.StatusBadRequest)
	if h.hits.total("") != before {
		t.Fatal("a CreateInvoice refused for an item reached HighLevel")
	}

	tmpl, err := inv.CreateInvoiceTemplate(ctx, &hlgatev1.CreateInvoiceTemplateRequest{LocationId: loc, AltType: proto.String("location"), Name: proto.String("Monthly"),
		BusinessDetails: business, Currency: proto.String("USD"), Items: items})
	if err != nil || tmpl.GetId() == "" {
		t.Fatalf("CreateInvoiceTemplate = %v, %v", tmpl, err)
	}
	restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/invoices/template",
		`{"altType":"location","name":"Weekly","businessDetails":{"name":"Acme"},"currency":"USD","items":[{"name":"Setup","currency":"USD","amount":250,"qty":1}]}`, http.StatusOK)
	tl, err := inv.ListInvoiceTemplates(ctx, &hlgatev1.ListInvoiceTemplatesRequest{LocationId: loc, PageSize: 1})
	if err != nil || len(tl.GetData()) != 1 || tl.GetTotalSize() != 2 || tl.GetNextPageToken() == "" {
		t.Fatalf("ListInvoiceTemplates = %v, %v", tl, err)
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/invoices/template", "", http.StatusOK); len(l["data"].([]any)) != 2 {
		t.Fatalf("GET invoice templates = %v", l)
	}
	if g, err := inv.GetInvoiceTemplate(ctx, &hlgatev1.GetInvoiceTemplateRequest{LocationId: loc, TemplateId: tmpl.GetId()}); err != nil || g.GetName() != "Monthly" {
		t.Fatalf("GetInvoiceTemplate = %v, %v", g, err)
	}
	restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/invoices/template/"+tmpl.GetId(), "", http.StatusOK)
	if _, err := inv.UpdateInvoiceTemplate(ctx, &hlgatev1.UpdateInvoiceTemplateRequest{LocationId: loc, TemplateId: tmpl.GetId(), AltType: proto.String("location"),
		Name: proto.String("Monthly, renamed"), BusinessDetails: business, Currency: proto.String("USD"), Items: items}); err != nil {
		t.Fatalf("UpdateInvoiceTemplate: %v", err)
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/invoices/template/"+tmpl.GetId(),
		`{"altType":"location","name":"Monthly again","businessDetails":{"name":"Acme"},"currency":"USD","items":[{"name":"Setup","currency":"USD","amount":250,"qty":1}]}`, http.StatusOK)
	if _, err := inv.DeleteInvoiceTemplate(ctx, &hlgatev1.DeleteInvoiceTemplateRequest{LocationId: loc, TemplateId: tmpl.GetId()}); err != nil {
		t.Fatalf("DeleteInvoiceTemplate: %v", err)
	}
	code, _, body := h.rest(http.MethodDelete, "/v1/locations/"+loc+"/invoices/template/"+tmpl.GetId(), "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted template = %d %s", code, body)
	}
}

// Calendar schedules: their paths overlap the calendar's own
// (/calendars/schedules/{id} against /calendars/{calendarId}/…), which the
// sandbox routes like HighLevel; a user's schedules are walked by page.
func TestGeneratedSchedules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	rules := []*hlgatev1.ScheduleRuleDTO{{Type: proto.String("wday"), Day: proto.String("monday"),
		Intervals: []*hlgatev1.ScheduleIntervalDTO{{From: proto.String("09:00"), To: proto.String("17:00")}}}}
	var ids []string
	for _, name := range []string{"Mornings", "Evenings", "Weekends"} {
		s, err := h.calendars.CreateSchedule(ctx, &hlgatev1.CreateScheduleRequest{LocationId: loc, Name: proto.String(name),
			Timezone: proto.String("America/New_York"), UserId: proto.String("User00000000000001"), Rules: rules})
		if err != nil || s.GetSchedule().GetId() == "" {
			t.Fatalf("CreateSchedule(%s) = %v, %v", name, s, err)
		}
		ids = append(ids, s.GetSchedule().GetId())
	}
	created := restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/calendars/schedules",
		`{"name":"Nights","timezone":"America/New_York","userId":"User00000000000002","rules":[{"type":"wday","day":"friday","intervals":[{"from":"20:00","to":"23:00"}]}]}`, http.StatusOK)
	other, _ := created["schedule"].(map[string]any)["id"].(string)

	seen := map[string]bool{}
	req := &hlgatev1.GetAllSchedulesRequest{LocationId: loc, UserId: proto.String("User00000000000001"), PageSize: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("the walk does not end")
		}
		page, err := h.calendars.GetAllSchedules(ctx, req)
		if err != nil {
			t.Fatalf("GetAllSchedules: %v", err)
		}
		for _, s := range page.GetSchedules() {
			if seen[s.GetId()] || s.GetId() == other {
				t.Fatalf("schedule %s twice, or of another user", s.GetId())
			}
			seen[s.GetId()] = true
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	if len(seen) != 3 {
		t.Fatalf("the walk saw %d schedules, want the user's 3", len(seen))
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/calendars/schedules/search?userId=User00000000000002", "", http.StatusOK); len(l["schedules"].([]any)) != 1 {
		t.Fatalf("GET schedules of user 2 = %v", l)
	}
	got, err := h.calendars.GetScheduleById(ctx, &hlgatev1.GetScheduleByIdRequest{LocationId: loc, Id: ids[0]})
	if err != nil || got.GetSchedule().GetName() != "Mornings" || got.GetSchedule().GetRules()[0].GetIntervals()[0].GetTo() != "17:00" {
		t.Fatalf("GetScheduleById = %v, %v", got, err)
	}
	restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/calendars/schedules/"+ids[1], "", http.StatusOK)
	if _, err := h.calendars.UpdateSchedule(ctx, &hlgatev1.UpdateScheduleRequest{LocationId: loc, Id: ids[0], Name: proto.String("Early mornings")}); err != nil {
		t.Fatalf("UpdateSchedule: %v", err)
	}
	restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/calendars/schedules/"+ids[1], `{"name":"Late evenings"}`, http.StatusOK)
	if _, err := h.calendars.DeleteSchedule(ctx, &hlgatev1.DeleteScheduleRequest{LocationId: loc, Id: ids[0]}); err != nil {
		t.Fatalf("DeleteSchedule: %v", err)
	}
	restJSON(t, h, http.MethodDelete, "/v1/locations/"+loc+"/calendars/schedules/"+ids[1], "", http.StatusOK)
	if _, err := h.calendars.GetScheduleById(ctx, &hlgatev1.GetScheduleByIdRequest{LocationId: loc, Id: ids[0]}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetScheduleById after delete: %v, want NOT_FOUND", err)
	}
}

// walkIDs pages a list to its end through page_token: fetch answers a
// page's ids, the next token and total_size. An id on two pages, a
// total_size other than wantTotal or more than maxPages pages fails.
func walkIDs(t *testing.T, maxPages int, wantTotal int32, fetch func(token string) ([]string, string, int32, error)) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages >= maxPages {
			t.Fatal("the walk does not end")
		}
		ids, next, total, err := fetch(token)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		if total != wantTotal {
			t.Fatalf("total_size = %d, want %d", total, wantTotal)
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
		if token = next; token == "" {
			return seen
		}
	}
}
