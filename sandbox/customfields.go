package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Custom field data types the sandbox's locations define. The names and the
// spelling MONETORY are upstream's (locations.json CustomFieldSchema.dataType,
// contacts.json MonetoryField).
const (
	FieldText            = "TEXT"
	FieldNumerical       = "NUMERICAL"
	FieldMonetory        = "MONETORY"
	FieldCheckbox        = "CHECKBOX"
	FieldMultipleOptions = "MULTIPLE_OPTIONS"
	FieldFileUpload      = "FILE_UPLOAD"
)

// CustomFieldDef is one custom field definition of a location, shaped like
// locations.json's CustomFieldSchema. Model is "contact" or "opportunity";
// FieldKey is the "<model>.<name>" key upstream accepts in place of the id.
type CustomFieldDef struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	FieldKey        string   `json:"fieldKey"`
	DataType        string   `json:"dataType"`
	Model           string   `json:"model"`
	LocationID      string   `json:"locationId"`
	Position        int      `json:"position"`
	PicklistOptions []string `json:"picklistOptions,omitempty"`
}

// customFieldSeeds are the definitions every location gets: one of each data
// type per model. ids are fixed, padded to upstream's 20 characters with the
// location's ordinal, so tests can name them and another location's id is
// not this one's.
var customFieldSeeds = []struct {
	idStem, name, dataType, model string
	options                       []string
}{
	{"cfNickname", "nickname", FieldText, "contact", nil},
	{"cfLoyaltyPoints", "loyalty_points", FieldNumerical, "contact", nil},
	{"cfLifetimeValue", "lifetime_value", FieldMonetory, "contact", nil},
	{"cfInterests", "interests", FieldCheckbox, "contact", []string{"implants", "whitening", "braces"}},
	{"cfLanguages", "languages", FieldMultipleOptions, "contact", []string{"english", "spanish", "french"}},
	{"cfIdDocument", "id_document", FieldFileUpload, "contact", nil},
	{"cfOppBudget", "budget", FieldText, "opportunity", nil},
	{"cfOppSeats", "seats", FieldNumerical, "opportunity", nil},
	{"cfOppDealSize", "deal_size", FieldMonetory, "opportunity", nil},
	{"cfOppProducts", "products", FieldCheckbox, "opportunity", []string{"cleaning", "x-ray", "crown"}},
	{"cfOppChannels", "channels", FieldMultipleOptions, "opportunity", []string{"phone", "email", "walk-in"}},
	{"cfOppContract", "contract", FieldFileUpload, "opportunity", nil},
}

// seedCustomFields builds a location's definitions; ordinal (1, 2, ...)
// makes the ids unique per location.
func seedCustomFields(locationID string, ordinal int) []CustomFieldDef {
	defs := make([]CustomFieldDef, len(customFieldSeeds))
	for i, sd := range customFieldSeeds {
		defs[i] = CustomFieldDef{
			ID: fmt.Sprintf("%s%0*d", sd.idStem, 20-len(sd.idStem), ordinal), Name: sd.name,
			FieldKey: sd.model + "." + sd.name, DataType: sd.dataType, Model: sd.model,
			LocationID: locationID, Position: i, PicklistOptions: slices.Clone(sd.options),
		}
	}
	return defs
}

// CustomFields returns the custom field definitions of a location (nil for
// an unknown location), so tests can write a value of every data type.
func (s *Sandbox) CustomFields(locationID string) []CustomFieldDef {
	l, ok := s.loc(locationID)
	if !ok {
		return nil
	}
	l.fieldMu.RLock()
	out := slices.Clone(l.fieldDefs)
	l.fieldMu.RUnlock()
	for i := range out {
		out[i].PicklistOptions = slices.Clone(out[i].PicklistOptions)
	}
	return out
}

// opGetCustomFields answers GET /locations/{locationId}/customFields: the
// location's definitions, of one model when the model query names one
// ("all", or none, lists both). The path's location must be the token's.
func (s *Sandbox) opGetCustomFields(w http.ResponseWriter, r *http.Request, c *call) {
	l, aerr := s.locationStore(c, r.PathValue("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	model := r.URL.Query().Get("model")
	out := []CustomFieldDef{}
	l.fieldMu.RLock()
	for _, d := range l.fieldDefs {
		if model == "" || model == "all" || d.Model == model {
			out = append(out, d)
		}
	}
	l.fieldMu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"customFields": out})
}

// fieldDef finds a definition of the model by id or key, as a copy.
func (l *locStore) fieldDef(model, id, key string) *CustomFieldDef {
	l.fieldMu.RLock()
	defer l.fieldMu.RUnlock()
	for _, d := range l.fieldDefs {
		if d.Model == model && ((id != "" && d.ID == id) || (id == "" && d.FieldKey == key)) {
			return &d
		}
	}
	return nil
}

// customFieldWrite is one entry of a write's customFields (the document's
// customFieldsInput* and TextField ... FileField shapes): id or key, and
// field_value kept as JSON until its definition says what it must be.
type customFieldWrite struct {
	ID         string          `json:"id"`
	Key        string          `json:"key"`
	FieldValue json.RawMessage `json:"field_value"`
}

// fieldValue is a checked custom field value: its definition's id and the
// value as the JSON upstream answers it with.
type fieldValue struct {
	id    string
	value json.RawMessage
}

// resolveCustomFields checks every entry against the location's
// definitions of the model and converts its value to the JSON type reads
// answer with: a string for TEXT, a number for NUMERICAL and MONETORY (a
// numeric string is accepted), an array of strings for CHECKBOX and
// MULTIPLE_OPTIONS (one string is a one-element array), an object or an
// array of objects for FILE_UPLOAD.
func (l *locStore) resolveCustomFields(model string, in []customFieldWrite, p *problems) []fieldValue {
	out := make([]fieldValue, 0, len(in))
	for i, cf := range in {
		at := fmt.Sprintf("customFields.%d", i)
		if cf.ID == "" && cf.Key == "" {
			p.add(at + ".id or " + at + ".key should not be empty")
			continue
		}
		d := l.fieldDef(model, cf.ID, cf.Key)
		switch {
		case d == nil && cf.ID != "":
			p.add(fmt.Sprintf("%s.id %q is not a %s custom field of this location", at, cf.ID, model))
			continue
		case d == nil:
			p.add(fmt.Sprintf("%s.key %q is not a %s custom field of this location", at, cf.Key, model))
			continue
		case cf.ID != "" && cf.Key != "" && d.FieldKey != cf.Key:
			p.add(fmt.Sprintf("%s.key %q does not name custom field %s (%s)", at, cf.Key, d.ID, d.FieldKey))
			continue
		}
		v, msg := convertFieldValue(d.DataType, cf.FieldValue)
		if msg != "" {
			p.add(fmt.Sprintf("%s.field_value %s for custom field %s (%s, %s)", at, msg, d.ID, d.FieldKey, d.DataType))
			continue
		}
		out = append(out, fieldValue{id: d.ID, value: v})
	}
	return out
}

// convertFieldValue checks a written value against a data type and returns
// the JSON to store, or what the value must be.
func convertFieldValue(dataType string, raw json.RawMessage) (json.RawMessage, string) {
	var v any
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, "should not be empty"
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, "is not valid JSON"
	}
	switch dataType {
	case FieldText:
		if s, ok := v.(string); ok {
			return encodeValue(s)
		}
		return nil, "must be a string"
	case FieldNumerical, FieldMonetory:
		switch x := v.(type) {
		case float64:
			return encodeValue(x)
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return encodeValue(f)
			}
		}
		return nil, "must be a number or a numeric string"
	case FieldCheckbox, FieldMultipleOptions:
		switch x := v.(type) {
		case string:
			return encodeValue([]string{x})
		case []any:
			ss := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, "must be an array of strings"
				}
				ss[i] = s
			}
			return encodeValue(ss)
		}
		return nil, "must be an array of strings"
	case FieldFileUpload:
		switch x := v.(type) {
		case map[string]any:
			return encodeValue(x)
		case []any:
			for _, e := range x {
				if _, ok := e.(map[string]any); !ok {
					return nil, "must be an object or an array of objects"
				}
			}
			return encodeValue(x)
		}
		return nil, "must be an object or an array of objects"
	}
	return nil, "has a data type the sandbox does not know"
}

// encodeValue encodes a value built from decoded JSON, reporting the
// (unexpected) failure as a problem with the value rather than a panic.
func encodeValue(v any) (json.RawMessage, string) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "cannot be encoded: " + err.Error()
	}
	return b, ""
}
