// Package specexample builds request values from an OpenAPI schema, for
// tests that drive an operation from its document alone: the sandbox's
// conformance walk and the server's walk of the generated RPCs.
package specexample

import (
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Value is a value of schema s: its example or default, the first of its
// enum, else a placeholder of its type; for an object, its required members
// (every member when all is set), each built the same way.
func Value(s *openapi3.Schema, all bool) any { return value(s, all, 0) }

func value(s *openapi3.Schema, all bool, depth int) any {
	switch {
	case s == nil:
		return "x"
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Type.Is("string"):
		if s.Format == "date-time" {
			return "2026-01-01T00:00:00.000Z"
		}
		return "x"
	case s.Type.Is("number"), s.Type.Is("integer"):
		return 1
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		if s.Items == nil || s.Items.Value == nil {
			return []any{}
		}
		return []any{value(s.Items.Value, all, depth+1)}
	}
	out := map[string]any{}
	if depth > 8 {
		return out
	}
	for name, p := range s.Properties {
		if p.Value != nil && (all || slices.Contains(s.Required, name)) && !p.Value.ReadOnly {
			out[name] = value(p.Value, all, depth+1)
		}
	}
	for _, m := range s.AllOf {
		if m.Value != nil {
			if sub, ok := value(m.Value, all, depth+1).(map[string]any); ok {
				for k, v := range sub {
					out[k] = v
				}
			}
		}
	}
	return out
}

// Body is a JSON body with the required members of an operation's body
// schema, or nil when it takes none.
func Body(op *openapi3.Operation) any {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return Value(mt.Schema.Value, false)
}

// Query is each required query parameter of op with a value: the
// location's for a location name (locationId, altId), else its example.
func Query(op *openapi3.Operation, location string) map[string]string {
	out := map[string]string{}
	for _, p := range op.Parameters {
		if p.Value == nil || p.Value.In != openapi3.ParameterInQuery || !p.Value.Required {
			continue
		}
		v := "x"
		switch {
		case p.Value.Name == "locationId" || p.Value.Name == "altId":
			v = location
		case p.Value.Schema != nil && p.Value.Schema.Value != nil:
			v = fmt.Sprint(Value(p.Value.Schema.Value, false))
		}
		out[p.Value.Name] = v
	}
	return out
}

// SuccessCode is the operation's lowest 2xx status.
func SuccessCode(op *openapi3.Operation) int {
	for code := 200; code < 300; code++ {
		if op.Responses.Status(code) != nil {
			return code
		}
	}
	return 200
}

// PathEnum is the first value a path parameter of op allows when its schema
// is an enum (a calendar resource's type: equipments), so a walk names a
// collection the document accepts; ok is false for an id.
func PathEnum(op *openapi3.Operation, name string) (string, bool) {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInPath && p.Value.Name == name &&
			p.Value.Schema != nil && p.Value.Schema.Value != nil && len(p.Value.Schema.Value.Enum) > 0 {
			return fmt.Sprint(p.Value.Schema.Value.Enum[0]), true
		}
	}
	return "", false
}

// FillPath names the parameters of a path template for a walk: locationId
// is location, a parameter an operation of ops limits to an enum takes its
// first value (PathEnum), and any other the fixed id.
func FillPath(path, location, id string, ops ...*openapi3.Operation) string {
	path = strings.ReplaceAll(path, "{locationId}", location)
	for strings.Contains(path, "{") {
		i := strings.Index(path, "{")
		j := strings.Index(path[i:], "}") + i
		v := id
		for _, op := range ops {
			if e, ok := PathEnum(op, path[i+1:j]); ok {
				v = e
			}
		}
		path = path[:i] + v + path[j+1:]
	}
	return path
}
