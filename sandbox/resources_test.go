package sandbox_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

type contactJSON struct {
	ID          string   `json:"id"`
	FirstName   string   `json:"firstName"`
	Email       string   `json:"email"`
	City        string   `json:"city"`
	CompanyName string   `json:"companyName"`
	Tags        []string `json:"tags"`
	Dnd         bool     `json:"dnd"`
	DateAdded   string   `json:"dateAdded"`
	BusinessID  string   `json:"businessId"`
	SearchAfter []any    `json:"searchAfter"`
}

type searchResult struct {
	Contacts []contactJSON `json:"contacts"`
	Total    int           `json:"total"`
}

func (e *env) search(tok string, body map[string]any) (int, searchResult, string) {
	e.t.Helper()
	body["locationId"] = sandbox.DemoLocationID
	resp, b := e.call("POST", "/contacts/search", tok, sandbox.VersionDefault, body)
	var r searchResult
	if resp.StatusCode == 200 {
		mustJSON(e.t, b, &r)
	}
	return resp.StatusCode, r, string(b)
}

// walk collects ids page by page, failing on a duplicate.
type walk struct {
	t    *testing.T
	seen map[string]bool
	ids  []string
}

func newWalk(t *testing.T) *walk { return &walk{t: t, seen: map[string]bool{}} }

func (w *walk) add(id string) {
	w.t.Helper()
	if w.seen[id] {
		w.t.Fatalf("id %s returned twice", id)
	}
	w.seen[id] = true
	w.ids = append(w.ids, id)
}

func TestPaginationWalksWholeCollections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	const nContacts = 1000

	t.Run("contacts page", func(t *testing.T) {
		w := newWalk(t)
		for page := 1; ; page++ {
			status, r, body := e.search(tok, map[string]any{"pageLimit": 97, "page": page})
			if status != 200 || r.Total != nContacts {
				t.Fatalf("page %d: %d total %d %s", page, status, r.Total, body)
			}
			if len(r.Contacts) == 0 {
				break
			}
			for _, c := range r.Contacts {
				w.add(c.ID)
			}
		}
		if len(w.ids) != nContacts {
			t.Errorf("walked %d contacts, want %d", len(w.ids), nContacts)
		}
	})
	for _, sorts := range [][]map[string]any{
		nil,
		{{"field": "companyName", "direction": "asc"}}, // many ties: the id tie-break must hold
		{{"field": "lastNameLowerCase", "direction": "desc"}, {"field": "dateAdded", "direction": "asc"}},
	} {
		t.Run(fmt.Sprintf("contacts searchAfter %v", sorts), func(t *testing.T) {
			w := newWalk(t)
			var after []any
			for {
				body := map[string]any{"pageLimit": 113}
				if sorts != nil {
					body["sort"] = sorts
				}
				if after != nil {
					body["searchAfter"] = after
				}
				status, r, raw := e.search(tok, body)
				if status != 200 {
					t.Fatalf("%d %s", status, raw)
				}
				if len(r.Contacts) == 0 {
					break
				}
				for _, c := range r.Contacts {
					w.add(c.ID)
				}
				after = r.Contacts[len(r.Contacts)-1].SearchAfter
			}
			if len(w.ids) != nContacts {
				t.Errorf("walked %d contacts, want %d", len(w.ids), nContacts)
			}
		})
	}
	t.Run("contacts page depth limit", func(t *testing.T) {
		if status, _, body := e.search(tok, map[string]any{"pageLimit": 500, "page": 21}); status != 400 {
			t.Errorf("page beyond 10,000: %d %s", status, body)
		}
		if status, _, body := e.search(tok, map[string]any{"pageLimit": 5, "page": 2, "searchAfter": []any{1, "x"}}); status != 422 {
			t.Errorf("page with searchAfter: %d %s", status, body)
		}
	})

	t.Run("opportunities cursor", func(t *testing.T) {
		type meta struct {
			Total        int     `json:"total"`
			NextPageURL  string  `json:"nextPageUrl"`
			StartAfterID string  `json:"startAfterId"`
			StartAfter   float64 `json:"startAfter"`
		}
		type page struct {
			Opportunities []struct{ ID string } `json:"opportunities"`
			Meta          meta                  `json:"meta"`
		}
		for _, follow := range []string{"meta", "nextPageUrl"} {
			w := newWalk(t)
			path := "/opportunities/search?location_id=" + sandbox.DemoLocationID + "&limit=17"
			total := -1
			for path != "" {
				resp, body := e.call("GET", path, tok, sandbox.VersionDefault, nil)
				var p page
				mustJSON(t, body, &p)
				if resp.StatusCode != 200 || (total >= 0 && p.Meta.Total != total) {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
				}
				total = p.Meta.Total
				for _, o := range p.Opportunities {
					w.add(o.ID)
				}
				switch {
				case p.Meta.NextPageURL == "":
					path = ""
				case follow == "nextPageUrl":
					u, err := url.Parse(p.Meta.NextPageURL)
					if err != nil {
						t.Fatal(err)
					}
					path = u.RequestURI()
				default:
					path = fmt.Sprintf("/opportunities/search?location_id=%s&limit=17&startAfter=%d&startAfterId=%s",
						sandbox.DemoLocationID, int64(p.Meta.StartAfter), p.Meta.StartAfterID)
				}
			}
			if len(w.ids) != total || total != 300 {
				t.Errorf("following %s walked %d of %d opportunities, want 300", follow, len(w.ids), total)
			}
		}
	})

	for _, kind := range []string{"orders", "transactions"} {
		t.Run("payments "+kind, func(t *testing.T) {
			w := newWalk(t)
			total := -1
			for offset := 0; total < 0 || offset < total; offset += 7 {
				path := fmt.Sprintf("/payments/%s?altId=%s&altType=location&limit=7&offset=%d", kind, sandbox.DemoLocationID, offset)
				resp, body := e.call("GET", path, tok, sandbox.VersionDefault, nil)
				var p struct {
					Data []struct {
						ID string `json:"_id"`
					} `json:"data"`
					TotalCount int `json:"totalCount"`
				}
				mustJSON(t, body, &p)
				if resp.StatusCode != 200 || len(p.Data) == 0 || (total >= 0 && p.TotalCount != total) {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
				}
				total = p.TotalCount
				for _, d := range p.Data {
					w.add(d.ID)
				}
			}
			if len(w.ids) != total || total == 0 {
				t.Errorf("walked %d of %d %s", len(w.ids), total, kind)
			}
		})
	}
}

func TestContactSearchFiltersAndQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	var all []contactJSON
	for page := 1; ; page++ {
		_, r, _ := e.search(tok, map[string]any{"pageLimit": 500, "page": page})
		if len(r.Contacts) == 0 {
			break
		}
		all = append(all, r.Contacts...)
	}
	mid := all[len(all)/2].DateAdded
	midT, _ := time.Parse(time.RFC3339, mid)
	hasTag := func(c contactJSON, tag string) bool { return slices.Contains(c.Tags, tag) }
	f := func(field, op string, value any) map[string]any {
		return map[string]any{"field": field, "operator": op, "value": value}
	}
	tests := []struct {
		name    string
		body    map[string]any
		want    func(c contactJSON) bool
		nonzero bool
	}{
		{"tag eq", map[string]any{"filters": []any{f("tags", "eq", "vip")}}, func(c contactJSON) bool { return hasTag(c, "vip") }, true},
		{"tag not_eq", map[string]any{"filters": []any{f("tags", "not_eq", "vip")}}, func(c contactJSON) bool { return !hasTag(c, "vip") }, true},
		{"city eq, any case", map[string]any{"filters": []any{f("city", "eq", "AUSTIN")}}, func(c contactJSON) bool { return c.City == "Austin" }, true},
		{"email contains", map[string]any{"filters": []any{f("email", "contains", "ada.")}}, func(c contactJSON) bool { return strings.Contains(c.Email, "ada.") }, true},
		{"company not_contains", map[string]any{"filters": []any{f("companyName", "not_contains", "corp")}}, func(c contactJSON) bool { return !strings.Contains(strings.ToLower(c.CompanyName), "corp") }, true},
		{"dnd", map[string]any{"filters": []any{f("dnd", "eq", true)}}, func(c contactJSON) bool { return c.Dnd }, true},
		{"exists none", map[string]any{"filters": []any{map[string]any{"field": "businessId", "operator": "exists"}}}, func(c contactJSON) bool { return c.BusinessID != "" }, false},
		{"date range", map[string]any{"filters": []any{f("dateAdded", "range", map[string]any{"gte": mid})}}, func(c contactJSON) bool {
			t, _ := time.Parse(time.RFC3339, c.DateAdded)
			return !t.Before(midT)
		}, true},
		{"or group", map[string]any{"filters": []any{map[string]any{"group": "OR", "filters": []any{f("city", "eq", "Austin"), f("city", "eq", "Denver")}}}},
			func(c contactJSON) bool { return c.City == "Austin" || c.City == "Denver" }, true},
		{"and of group and tag", map[string]any{"filters": []any{
			map[string]any{"group": "OR", "filters": []any{f("city", "eq", "Austin"), f("city", "eq", "Denver")}}, f("tags", "eq", "lead")}},
			func(c contactJSON) bool { return (c.City == "Austin" || c.City == "Denver") && hasTag(c, "lead") }, true},
		{"query", map[string]any{"query": "LOVELACE"}, func(c contactJSON) bool { return strings.Contains(strings.ToLower(c.Email), "lovelace") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, c := range all {
				if tt.want(c) {
					want = append(want, c.ID)
				}
			}
			var got []string
			total := -1
			for page := 1; ; page++ {
				tt.body["pageLimit"], tt.body["page"] = 300, page
				status, r, body := e.search(tok, tt.body)
				if status != 200 {
					t.Fatalf("%d %s", status, body)
				}
				if len(r.Contacts) == 0 {
					break
				}
				total = r.Total
				for _, c := range r.Contacts {
					got = append(got, c.ID)
				}
			}
			if total == -1 {
				total = 0
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) || total != len(want) || (tt.nonzero && len(want) == 0) || (!tt.nonzero && len(want) != 0) {
				t.Errorf("got %d (total %d), want %d matching contacts", len(got), total, len(want))
			}
		})
	}
	for _, bad := range []map[string]any{
		{"filters": []any{f("shoeSize", "eq", 42)}},
		{"filters": []any{f("city", "like", "x")}},
		{"filters": []any{f("city", "range", map[string]any{"gt": 1})}},
		{"filters": []any{map[string]any{"group": "XOR", "filters": []any{f("city", "eq", "x")}}}},
		{"sort": []any{map[string]any{"field": "shoeSize", "direction": "asc"}}},
		{"query": strings.Repeat("q", 76)},
		{"pageLimit": 501},
		{"unknownMember": 1},
	} {
		if _, ok := bad["pageLimit"]; !ok {
			bad["pageLimit"] = 10
		}
		if status, _, body := e.search(tok, bad); status != 422 {
			t.Errorf("search %v: %d %s, want 422", bad, status, body)
		}
	}
}

func TestContactTagsAndWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	resp, body := e.call("POST", "/contacts/", tok, sandbox.VersionDefault, map[string]any{
		"locationId": sandbox.DemoLocationID, "firstName": "Tag", "email": "tag@example.com", "tags": []string{"One"}})
	var created struct{ Contact contactJSON }
	mustJSON(t, body, &created)
	if resp.StatusCode != 201 || created.Contact.ID == "" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	id := created.Contact.ID
	steps := []struct {
		method string
		tags   []string
		status int
		want   []string
	}{
		{"POST", []string{"Two ", "one", "three"}, 201, []string{"one", "two", "three"}},
		{"DELETE", []string{"ONE", "absent"}, 200, []string{"two", "three"}},
		{"DELETE", []string{"two", "three"}, 200, []string{}},
	}
	for i, st := range steps {
		resp, body := e.call(st.method, "/contacts/"+id+"/tags", tok, sandbox.VersionDefault, map[string]any{"tags": st.tags})
		var got struct{ Tags []string }
		mustJSON(t, body, &got)
		if resp.StatusCode != st.status || !slices.Equal(got.Tags, st.want) {
			t.Fatalf("step %d: %d %s, want %d %v", i, resp.StatusCode, body, st.status, st.want)
		}
	}
	resp, body = e.call("GET", "/contacts/"+id, tok, sandbox.VersionDefault, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"tags":[]`) {
		t.Errorf("contact after tag removal: %s", body)
	}
	// Upsert finds the contact by email and updates it.
	resp, body = e.call("POST", "/contacts/upsert", tok, sandbox.VersionDefault, map[string]any{
		"locationId": sandbox.DemoLocationID, "email": "TAG@example.com", "city": "Lima"})
	var up struct {
		New     bool
		Contact contactJSON
	}
	mustJSON(t, body, &up)
	if resp.StatusCode != 200 || up.New || up.Contact.ID != id || up.Contact.City != "Lima" {
		t.Errorf("upsert: %d %s", resp.StatusCode, body)
	}
	// Update refuses members the operation does not declare.
	if resp, body := e.call("PUT", "/contacts/"+id, tok, sandbox.VersionDefault, map[string]any{"locationId": "x"}); resp.StatusCode != 422 {
		t.Errorf("update with locationId: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.call("PUT", "/contacts/"+id, tok, sandbox.VersionDefault, map[string]any{"email": "not-an-email"}); resp.StatusCode != 422 {
		t.Errorf("update with a bad email: %d %s", resp.StatusCode, body)
	}
}

// TestFreeSlotsAcrossDST checks the slot arithmetic over the night New
// York leaves daylight saving time (2026-11-01): working hours stay at the
// same wall-clock times, the UTC offset changes, booked slots disappear,
// and the answer is rendered in the requested zone.
func TestFreeSlotsAcrossDST(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	clock := &fakeClock{t: time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	resp, body := e.call("GET", "/calendars/?locationId="+sandbox.DemoLocationID, tok, sandbox.VersionCalendars, nil)
	var cals struct {
		Calendars []struct{ ID, Name string }
	}
	mustJSON(t, body, &cals)
	if resp.StatusCode != 200 || len(cals.Calendars) != 2 || cals.Calendars[0].Name != "Sales Call" {
		t.Fatalf("calendars: %s", body)
	}
	cal := cals.Calendars[0].ID
	from := time.Date(2026, 10, 30, 0, 0, 0, 0, ny) // Friday, EDT
	to := time.Date(2026, 11, 2, 23, 59, 0, 0, ny)  // Monday, EST

	// Every seeded booking in the range, to take out of the expected slots.
	resp, body = e.call("GET", fmt.Sprintf("/calendars/events?locationId=%s&calendarId=%s&startTime=%d&endTime=%d",
		sandbox.DemoLocationID, cal, from.UnixMilli(), to.UnixMilli()), tok, sandbox.VersionCalendars, nil)
	var evs struct {
		Events []struct{ StartTime, EndTime, AppointmentStatus string }
	}
	mustJSON(t, body, &evs)
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	booked := func(s time.Time) bool {
		for _, ev := range evs.Events {
			st, _ := time.Parse(time.RFC3339, ev.StartTime)
			en, _ := time.Parse(time.RFC3339, ev.EndTime)
			if ev.AppointmentStatus != "cancelled" && st.Before(s.Add(30*time.Minute)) && en.After(s) {
				return true
			}
		}
		return false
	}
	expect := func(zone *time.Location) map[string][]string {
		out := map[string][]string{}
		for _, day := range []time.Time{from, time.Date(2026, 11, 2, 0, 0, 0, 0, ny)} { // Friday and Monday; the weekend is closed
			for _, rg := range [][2]int{{9 * 60, 12 * 60}, {13 * 60, 17 * 60}} {
				for m := rg[0]; m+30 <= rg[1]; m += 30 {
					s := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, ny)
					if booked(s) {
						continue
					}
					k := s.In(zone).Format("2006-01-02")
					out[k] = append(out[k], s.In(zone).Format(time.RFC3339))
				}
			}
		}
		return out
	}
	get := func(tz string) map[string][]string {
		t.Helper()
		q := fmt.Sprintf("/calendars/%s/free-slots?startDate=%d&endDate=%d", cal, from.UnixMilli(), to.UnixMilli())
		if tz != "" {
			q += "&timezone=" + url.QueryEscape(tz)
		}
		resp, body := e.call("GET", q, tok, sandbox.VersionCalendars, nil)
		var got map[string]struct{ Slots []string }
		mustJSON(t, body, &got)
		if resp.StatusCode != 200 {
			t.Fatalf("free slots: %d %s", resp.StatusCode, body)
		}
		out := map[string][]string{}
		for k, v := range got {
			out[k] = v.Slots
		}
		return out
	}
	check := func(name string, got, want map[string][]string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
	ny9 := get("America/New_York")
	check("New York", ny9, expect(ny))
	if fri := ny9["2026-10-30"]; len(fri) > 0 && !strings.HasSuffix(fri[0], "-04:00") {
		t.Errorf("Friday slot %s should carry EDT's -04:00", fri[0])
	}
	if mon := ny9["2026-11-02"]; len(mon) > 0 && !strings.HasSuffix(mon[0], "-05:00") {
		t.Errorf("Monday slot %s should carry EST's -05:00", mon[0])
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	check("Tokyo", get("Asia/Tokyo"), expect(tokyo)) // New York's Friday afternoon is Tokyo's Saturday
	check("default zone", get(""), expect(ny))

	// Booking a free slot takes it out; the slot cannot be booked twice.
	slot := ny9["2026-11-02"][0]
	contact := firstContact(t, e, tok, sandbox.DemoLocationID)
	appt := map[string]any{"calendarId": cal, "locationId": sandbox.DemoLocationID, "contactId": contact, "startTime": slot}
	if resp, body := e.call("POST", "/calendars/events/appointments", tok, sandbox.VersionCalendars, appt); resp.StatusCode != 200 {
		t.Fatalf("book %s: %d %s", slot, resp.StatusCode, body)
	}
	if after := get("America/New_York"); slices.Contains(after["2026-11-02"], slot) || len(after["2026-11-02"]) != len(ny9["2026-11-02"])-1 {
		t.Errorf("booked slot %s still offered", slot)
	}
	if resp, body := e.call("POST", "/calendars/events/appointments", tok, sandbox.VersionCalendars, appt); resp.StatusCode != 400 {
		t.Errorf("double booking: %d %s", resp.StatusCode, body)
	}
	offGrid := map[string]any{"calendarId": cal, "locationId": sandbox.DemoLocationID, "contactId": contact, "startTime": "2026-11-02T09:10:00-05:00"}
	if resp, body := e.call("POST", "/calendars/events/appointments", tok, sandbox.VersionCalendars, offGrid); resp.StatusCode != 400 {
		t.Errorf("off-grid booking: %d %s", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		days   time.Duration
		status int
	}{{31 * 24, 200}, {31*24 + 1, 422}} {
		q := fmt.Sprintf("/calendars/%s/free-slots?startDate=%d&endDate=%d", cal, from.UnixMilli(), from.Add(tc.days*time.Hour).UnixMilli())
		if resp, body := e.call("GET", q, tok, sandbox.VersionCalendars, nil); resp.StatusCode != tc.status {
			t.Errorf("range of %v: %d %s, want %d", tc.days*time.Hour, resp.StatusCode, body, tc.status)
		}
	}
}
