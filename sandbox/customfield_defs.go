package sandbox

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// The custom field definitions' own operations (create, read, update,
// delete) over the same definitions contacts' and opportunities' writes
// are checked against, so a field created here takes values at once.

// fieldDataTypes are the data types a created definition may have: the
// ones whose values the sandbox checks (convertFieldValue).
var fieldDataTypes = []string{FieldText, FieldNumerical, FieldMonetory, FieldCheckbox, FieldMultipleOptions, FieldFileUpload}

var notKeyChars = regexp.MustCompile(`[^a-z0-9]+`)

// fieldDefInput is a create's or an update's body (CreateCustomFieldsDTO,
// UpdateCustomFieldsDTO): the members the sandbox keeps, and the others
// the document declares, accepted and not stored.
type fieldDefInput struct {
	Name               *string  `json:"name"`
	DataType           *string  `json:"dataType"`
	Model              *string  `json:"model"`
	Position           *float64 `json:"position"`
	Placeholder        *string  `json:"placeholder"`
	AcceptedFormat     []string `json:"acceptedFormat"`
	IsMultipleFile     *bool    `json:"isMultipleFile"`
	MaxNumberOfFiles   *float64 `json:"maxNumberOfFiles"`
	TextBoxListOptions []any    `json:"textBoxListOptions"`
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// opCreateCustomField answers POST /locations/{locationId}/customFields:
// a definition of a known data type, for the contact model unless the body
// names opportunity, whose key is "<model>.<name in snake case>" and must
// be new.
func (s *Sandbox) opCreateCustomField(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.locationStore(c, r.PathValue("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var in fieldDefInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	name := strings.TrimSpace(deref(in.Name))
	if name == "" {
		p.add("name should not be empty")
	}
	if !slices.Contains(fieldDataTypes, deref(in.DataType)) {
		p.add("dataType must be one of the following values: " + strings.Join(fieldDataTypes, ", "))
	}
	model := "contact"
	if in.Model != nil {
		model = *in.Model
	}
	if model != "contact" && model != "opportunity" {
		p.add("model must be one of the following values: contact, opportunity")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	key := model + "." + strings.Trim(notKeyChars.ReplaceAllString(strings.ToLower(name), "_"), "_")
	l.mu.Lock()
	id := l.newID()
	l.mu.Unlock()
	l.fieldMu.Lock()
	if slices.ContainsFunc(l.fieldDefs, func(d CustomFieldDef) bool { return d.FieldKey == key }) {
		l.fieldMu.Unlock()
		writeError(w, errBadRequest("A custom field with key %s already exists", key))
		return
	}
	d := CustomFieldDef{ID: id, Name: name, FieldKey: key, DataType: *in.DataType, Model: model,
		LocationID: l.id, Position: len(l.fieldDefs)}
	if in.Position != nil {
		d.Position = int(*in.Position)
	}
	l.fieldDefs = append(l.fieldDefs, d)
	l.fieldMu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"customField": d})
}

// opGetCustomField answers GET /locations/{locationId}/customFields/{id}.
func (s *Sandbox) opGetCustomField(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.locationStore(c, r.PathValue("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	d := l.fieldDefByID(r.PathValue("id"))
	if d == nil {
		writeError(w, errNotFound("Custom field not found"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customField": d})
}

// opUpdateCustomField answers PUT /locations/{locationId}/customFields/{id}:
// its name and position change; its key and data type do not
// (values already written keep their meaning).
func (s *Sandbox) opUpdateCustomField(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.locationStore(c, r.PathValue("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var in fieldDefInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if in.DataType != nil {
		writeError(w, errUnprocessable("property dataType should not exist"))
		return
	}
	if strings.TrimSpace(deref(in.Name)) == "" {
		writeError(w, errUnprocessable("name should not be empty"))
		return
	}
	l.fieldMu.Lock()
	i := slices.IndexFunc(l.fieldDefs, func(d CustomFieldDef) bool { return d.ID == r.PathValue("id") })
	if i < 0 {
		l.fieldMu.Unlock()
		writeError(w, errNotFound("Custom field not found"))
		return
	}
	d := &l.fieldDefs[i]
	d.Name = strings.TrimSpace(*in.Name)
	if in.Position != nil {
		d.Position = int(*in.Position)
	}
	out := *d
	l.fieldMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"customField": out})
}

// opDeleteCustomField answers DELETE /locations/{locationId}/customFields/{id}.
func (s *Sandbox) opDeleteCustomField(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.locationStore(c, r.PathValue("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l.fieldMu.Lock()
	n := len(l.fieldDefs)
	l.fieldDefs = slices.DeleteFunc(l.fieldDefs, func(d CustomFieldDef) bool { return d.ID == r.PathValue("id") })
	gone := len(l.fieldDefs) < n
	l.fieldMu.Unlock()
	if !gone {
		writeError(w, errNotFound("Custom field not found"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}

// fieldDefByID finds a definition of any model by id, as a copy.
func (l *locStore) fieldDefByID(id string) *CustomFieldDef {
	l.fieldMu.RLock()
	defer l.fieldMu.RUnlock()
	for _, d := range l.fieldDefs {
		if d.ID == id {
			return &d
		}
	}
	return nil
}
