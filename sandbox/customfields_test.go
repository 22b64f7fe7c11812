package sandbox_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hlgate/hlgate/sandbox"
)

// defsByType indexes a location's definitions of one model by data type.
func defsByType(t *testing.T, sb *sandbox.Sandbox, loc, model string) map[string]sandbox.CustomFieldDef {
	t.Helper()
	out := map[string]sandbox.CustomFieldDef{}
	for _, d := range sb.CustomFields(loc) {
		if d.Model == model {
			out[d.DataType] = d
		}
	}
	for _, dt := range []string{sandbox.FieldText, sandbox.FieldNumerical, sandbox.FieldMonetory, sandbox.FieldCheckbox, sandbox.FieldMultipleOptions, sandbox.FieldFileUpload} {
		if _, ok := out[dt]; !ok {
			t.Fatalf("location %s has no %s custom field of type %s: %v", loc, model, dt, sb.CustomFields(loc))
		}
	}
	return out
}

// fieldValues reads customFields[{id, <member>}] of a record as id → value.
func fieldValues(t *testing.T, body []byte, record, member string) map[string]any {
	t.Helper()
	var m map[string]map[string]any
	mustJSON(t, body, &m)
	out := map[string]any{}
	fs, _ := m[record]["customFields"].([]any)
	for _, f := range fs {
		fm := f.(map[string]any)
		out[fm["id"].(string)] = fm[member]
	}
	return out
}

var fileValue = map[string]any{"f31175d4": map[string]any{"url": "https://example.com/f.pdf", "meta": map[string]any{"size": 7.0}}}

// Every data type is written in each of its accepted forms and read back
// with the JSON type upstream answers it with: numeric strings become
// numbers, a single option string a one-element array.
func TestCustomFieldValuesKeepTheirTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	L := sandbox.DemoLocationID

	cd := defsByType(t, e.sb, L, "contact")
	resp, body := e.call("POST", "/contacts/", tok, sandbox.VersionDefault, map[string]any{
		"locationId": L, "email": "types@example.com", "customFields": []any{
			map[string]any{"id": cd[sandbox.FieldText].ID, "field_value": "Amazing"},
			map[string]any{"key": cd[sandbox.FieldNumerical].FieldKey, "field_value": "42"},
			map[string]any{"id": cd[sandbox.FieldMonetory].ID, "key": cd[sandbox.FieldMonetory].FieldKey, "field_value": 99.5},
			map[string]any{"id": cd[sandbox.FieldCheckbox].ID, "field_value": "implants"},
			map[string]any{"id": cd[sandbox.FieldMultipleOptions].ID, "field_value": []string{"english", "french"}},
			map[string]any{"id": cd[sandbox.FieldFileUpload].ID, "field_value": fileValue},
		}})
	if resp.StatusCode != 201 {
		t.Fatalf("create contact: %d %s", resp.StatusCode, body)
	}
	want := map[string]any{
		cd[sandbox.FieldText].ID:            "Amazing",
		cd[sandbox.FieldNumerical].ID:       42.0,
		cd[sandbox.FieldMonetory].ID:        99.5,
		cd[sandbox.FieldCheckbox].ID:        []any{"implants"},
		cd[sandbox.FieldMultipleOptions].ID: []any{"english", "french"},
		cd[sandbox.FieldFileUpload].ID:      fileValue,
	}
	if d := cmp.Diff(want, fieldValues(t, body, "contact", "value")); d != "" {
		t.Fatalf("created contact's custom fields (-want +got):\n%s", d)
	}
	var created struct {
		Contact struct{ ID string } `json:"contact"`
	}
	mustJSON(t, body, &created)
	// An update replaces the values it names and keeps the others.
	files := []any{map[string]any{"url": "https://example.com/a.pdf"}, map[string]any{"url": "https://example.com/b.pdf"}}
	resp, body = e.call("PUT", "/contacts/"+created.Contact.ID, tok, sandbox.VersionDefault, map[string]any{"customFields": []any{
		map[string]any{"id": cd[sandbox.FieldNumerical].ID, "field_value": 7},
		map[string]any{"id": cd[sandbox.FieldFileUpload].ID, "field_value": files},
	}})
	if resp.StatusCode != 200 {
		t.Fatalf("update contact: %d %s", resp.StatusCode, body)
	}
	resp, body = e.call("GET", "/contacts/"+created.Contact.ID, tok, sandbox.VersionDefault, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("get contact: %d %s", resp.StatusCode, body)
	}
	want[cd[sandbox.FieldNumerical].ID] = 7.0
	want[cd[sandbox.FieldFileUpload].ID] = files
	if d := cmp.Diff(want, fieldValues(t, body, "contact", "value")); d != "" {
		t.Fatalf("read contact's custom fields (-want +got):\n%s", d)
	}

	od := defsByType(t, e.sb, L, "opportunity")
	pipes := e.pipelines(tok)
	resp, body = e.call("POST", "/opportunities/", tok, sandbox.VersionDefault, map[string]any{
		"locationId": L, "pipelineId": pipes[0], "name": "Typed", "status": "open", "contactId": created.Contact.ID,
		"customFields": []any{
			map[string]any{"id": od[sandbox.FieldText].ID, "field_value": "high"},
			map[string]any{"id": od[sandbox.FieldNumerical].ID, "field_value": 12},
			map[string]any{"key": od[sandbox.FieldMonetory].FieldKey, "field_value": "1250.50"},
			map[string]any{"id": od[sandbox.FieldCheckbox].ID, "field_value": []string{"crown"}},
			map[string]any{"id": od[sandbox.FieldMultipleOptions].ID, "field_value": []string{}},
			map[string]any{"id": od[sandbox.FieldFileUpload].ID, "field_value": files},
		}})
	if resp.StatusCode != 201 {
		t.Fatalf("create opportunity: %d %s", resp.StatusCode, body)
	}
	wantOpp := map[string]any{
		od[sandbox.FieldText].ID:            "high",
		od[sandbox.FieldNumerical].ID:       12.0,
		od[sandbox.FieldMonetory].ID:        1250.5,
		od[sandbox.FieldCheckbox].ID:        []any{"crown"},
		od[sandbox.FieldMultipleOptions].ID: []any{},
		od[sandbox.FieldFileUpload].ID:      files,
	}
	if d := cmp.Diff(wantOpp, fieldValues(t, body, "opportunity", "fieldValue")); d != "" {
		t.Fatalf("created opportunity's custom fields (-want +got):\n%s", d)
	}
}

// pipelines lists the demo location's pipeline ids.
func (e *env) pipelines(tok string) []string {
	e.t.Helper()
	resp, body := e.call("GET", "/opportunities/pipelines?locationId="+sandbox.DemoLocationID, tok, sandbox.VersionDefault, nil)
	var r struct {
		Pipelines []struct{ ID string } `json:"pipelines"`
	}
	mustJSON(e.t, body, &r)
	if resp.StatusCode != 200 || len(r.Pipelines) == 0 {
		e.t.Fatalf("pipelines: %d %s", resp.StatusCode, body)
	}
	var ids []string
	for _, p := range r.Pipelines {
		ids = append(ids, p.ID)
	}
	return ids
}

// A value of the wrong type, or a field the location's model does not
// define, is a 422 naming the field, and nothing is written.
func TestCustomFieldWritesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	L := sandbox.DemoLocationID
	cd := defsByType(t, e.sb, L, "contact")
	od := defsByType(t, e.sb, L, "opportunity")
	other := defsByType(t, e.sb, sandbox.OtherLocationID, "contact")
	for _, tc := range []struct {
		name  string
		field map[string]any
		want  string // in the message
	}{
		{"text takes no number", map[string]any{"id": cd[sandbox.FieldText].ID, "field_value": 5}, cd[sandbox.FieldText].ID},
		{"number takes no word", map[string]any{"id": cd[sandbox.FieldNumerical].ID, "field_value": "many"}, cd[sandbox.FieldNumerical].ID},
		{"money takes no array", map[string]any{"id": cd[sandbox.FieldMonetory].ID, "field_value": []string{"1"}}, cd[sandbox.FieldMonetory].ID},
		{"checkbox takes no object", map[string]any{"id": cd[sandbox.FieldCheckbox].ID, "field_value": map[string]any{}}, cd[sandbox.FieldCheckbox].ID},
		{"options take strings only", map[string]any{"id": cd[sandbox.FieldMultipleOptions].ID, "field_value": []any{"english", 3}}, cd[sandbox.FieldMultipleOptions].ID},
		{"file takes no string", map[string]any{"id": cd[sandbox.FieldFileUpload].ID, "field_value": "scan.pdf"}, cd[sandbox.FieldFileUpload].ID},
		{"files are objects", map[string]any{"id": cd[sandbox.FieldFileUpload].ID, "field_value": []any{map[string]any{}, "x"}}, cd[sandbox.FieldFileUpload].ID},
		{"no value", map[string]any{"id": cd[sandbox.FieldText].ID}, cd[sandbox.FieldText].ID},
		{"unknown id", map[string]any{"id": "cfNoSuchField0000001", "field_value": "x"}, "cfNoSuchField0000001"},
		{"unknown key", map[string]any{"key": "contact.no_such_field", "field_value": "x"}, "contact.no_such_field"},
		{"another location's field", map[string]any{"id": other[sandbox.FieldText].ID, "field_value": "x"}, other[sandbox.FieldText].ID},
		{"an opportunity field", map[string]any{"id": od[sandbox.FieldText].ID, "field_value": "x"}, od[sandbox.FieldText].ID},
		{"id and key disagree", map[string]any{"id": cd[sandbox.FieldText].ID, "key": cd[sandbox.FieldNumerical].FieldKey, "field_value": "x"}, cd[sandbox.FieldNumerical].FieldKey},
	} {
		resp, body := e.call("POST", "/contacts/", tok, sandbox.VersionDefault, map[string]any{
			"locationId": L, "email": "refused@example.com", "customFields": []any{tc.field}})
		if resp.StatusCode != 422 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want 422 naming %s", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	// Nothing was written: the email is still free.
	resp, body := e.call("POST", "/contacts/", tok, sandbox.VersionDefault, map[string]any{"locationId": L, "email": "refused@example.com"})
	if resp.StatusCode != 201 {
		t.Fatalf("create after refusals: %d %s", resp.StatusCode, body)
	}
}

// The definitions are per location, one of every type per model, and
// seeded contacts and opportunities carry values of every type.
func TestSeededCustomFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	ids := map[string]bool{}
	for _, loc := range []string{sandbox.DemoLocationID, sandbox.OtherLocationID} {
		for _, model := range []string{"contact", "opportunity"} {
			for _, d := range defsByType(t, e.sb, loc, model) {
				if ids[d.ID] || len(d.ID) != 20 || d.LocationID != loc || !strings.HasPrefix(d.FieldKey, model+".") {
					t.Errorf("definition %+v: want a 20-character id unique across locations and a %s.* key", d, model)
				}
				ids[d.ID] = true
			}
		}
	}
	if e.sb.CustomFields("nope") != nil {
		t.Error("an unknown location has custom fields")
	}
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	_, r, body := e.search(tok, map[string]any{"pageLimit": 40})
	if len(r.Contacts) != 40 {
		t.Fatalf("search: %s", body)
	}
	var raw struct {
		Contacts []struct {
			CustomFields []struct {
				Value any `json:"value"`
			} `json:"customFields"`
		} `json:"contacts"`
	}
	mustJSON(t, []byte(body), &raw)
	kinds := map[string]bool{}
	for _, c := range raw.Contacts {
		for _, f := range c.CustomFields {
			kinds[fmt.Sprintf("%T", f.Value)] = true
		}
	}
	if d := cmp.Diff(map[string]bool{"string": true, "float64": true, "[]interface {}": true, "map[string]interface {}": true}, kinds); d != "" {
		t.Errorf("JSON types of the seeded contacts' values (-want +got):\n%s", d)
	}
}
