package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// validator checks one operation's requests against api/openapi.yaml with
// kin-openapi's openapi3filter: path and query parameters and the body.
// Authentication is the sandbox's own (the pipeline's token, kind and scope
// checks run first), so the filter's is a no-op.
type validator struct {
	route      *routers.Route
	pathParams []string // names of the template's {params}
	// skip is true when the operation declares nothing a request can get
	// wrong beyond its path: no query parameter, no body, and only
	// unconstrained string path parameters, which a matched route always
	// satisfies. Such requests skip the filter, which keeps the simple GETs
	// fast.
	skip bool
	// form is true for a multipart/form-data body: the filter checks the
	// parameters only, and the handler reads the form with its bounds and
	// checks it against the schema (files.go), so no body is read unbounded.
	form bool
}

var validateOptions = &openapi3filter.Options{
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	MultiError:         true,
	// The handler must see the body as sent, not with the document's
	// defaults written into it.
	SkipSettingDefaults: true,
}

// formValidateOptions are validateOptions without the body, for a form.
var formValidateOptions = func() *openapi3filter.Options {
	o := *validateOptions
	o.ExcludeRequestBody = true
	return &o
}()

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

func newValidator(doc *openapi3.T, method, path string, item *openapi3.PathItem, op *openapi3.Operation) *validator {
	v := &validator{route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}}
	for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
		v.pathParams = append(v.pathParams, m[1])
	}
	v.skip = op.RequestBody == nil
	v.form = op.RequestBody != nil && op.RequestBody.Value != nil && op.RequestBody.Value.Content.Get("multipart/form-data") != nil
	params := append(openapi3.Parameters{}, item.Parameters...)
	params = append(params, op.Parameters...)
	for _, p := range params {
		pv := p.Value
		if pv == nil {
			continue
		}
		if pv.In != openapi3.ParameterInPath || pv.Schema == nil || !plainString(pv.Schema.Value) {
			v.skip = false
		}
	}
	return v
}

// plainString reports a schema every non-empty path segment satisfies.
func plainString(s *openapi3.Schema) bool {
	return s != nil && s.Type.Is("string") && s.Pattern == "" && s.MinLength <= 1 && s.MaxLength == nil &&
		len(s.Enum) == 0 && s.Format == "" && len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0 && s.Not == nil
}

// check validates a request, answering the problem the way the sandbox
// answers bad input: 400 {statusCode, message} for a body that is not JSON
// or of another content type, 422 {statusCode, message: [...], error} naming
// each parameter or body property otherwise. The body, once read, is put
// back for the handler.
func (v *validator) check(r *http.Request) *apiError {
	if v.skip {
		return nil
	}
	pp := make(map[string]string, len(v.pathParams))
	for _, n := range v.pathParams {
		pp[n] = r.PathValue(n)
	}
	opts := validateOptions
	if v.form {
		opts = formValidateOptions
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pp, Route: v.route, Options: opts}
	err := openapi3filter.ValidateRequest(context.Background(), in)
	if err == nil {
		return nil
	}
	var p problems
	for _, e := range flatten(err) {
		var re *openapi3filter.RequestError
		if !errors.As(e, &re) {
			// Security requirements cannot fail with the no-op function;
			// anything else is reported as it is.
			p.add(e.Error())
			continue
		}
		switch {
		case re.Parameter != nil:
			p.add(paramProblems(re)...)
		case re.RequestBody != nil:
			if aerr := bodyFault(re); aerr != nil {
				return aerr
			}
			p.add(schemaProblems(re.Err, "")...)
		default:
			p.add(re.Error())
		}
	}
	if aerr := p.err(); aerr != nil {
		return aerr
	}
	return errUnprocessable(err.Error())
}

// flatten lists the errors of (nested) openapi3.MultiErrors. It looks at
// the errors themselves, not their chains: errors.As would reach through a
// RequestError into its own MultiError and lose which parameter or body it
// was about.
func flatten(err error) []error {
	me, ok := err.(openapi3.MultiError)
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range me {
		out = append(out, flatten(e)...)
	}
	return out
}

func paramProblems(re *openapi3filter.RequestError) []string {
	name := re.Parameter.Name
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired), errors.Is(re.Err, openapi3filter.ErrInvalidEmptyValue):
		return []string{name + " should not be empty"}
	case re.Err == nil:
		return []string{fmt.Sprintf("%s: %s", name, re.Reason)}
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return []string{fmt.Sprintf("%s: %s", name, pe.Error())}
	}
	return schemaProblems(re.Err, name)
}

// bodyFault answers the body problems that are not about its members: a
// missing body, another content type, or text that is not JSON. They keep
// the 400 the sandbox's body decoder answers.
func bodyFault(re *openapi3filter.RequestError) *apiError {
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return errBadRequest("request body is required")
	case re.Err == nil && strings.Contains(re.Reason, "header Content-Type"):
		return errBadRequest("Content-Type must be application/json")
	case re.Reason == "failed to decode request body":
		return errBadRequest("request body is not valid JSON: %v", re.Err)
	}
	return nil
}

// schemaProblems words schema errors by the dotted path of the member
// ("customFields.0.field_value"), prefixed by the parameter name when the
// value is a parameter's; a missing required member reads "X should not be
// empty", upstream's wording (facts file: 422 {statusCode, message:[string]}).
func schemaProblems(err error, prefix string) []string {
	var out []string
	for _, e := range flatten(err) {
		var se *openapi3.SchemaError
		if !errors.As(e, &se) {
			out = append(out, strings.TrimSpace(prefix+" "+e.Error()))
			continue
		}
		path := se.JSONPointer()
		if prefix != "" {
			path = append([]string{prefix}, path...)
		}
		at := strings.Join(path, ".")
		if se.SchemaField == "required" && at != "" {
			// The pointer of a missing member already ends with its name.
			out = append(out, at+" should not be empty")
			continue
		}
		if at == "" {
			at = "body"
		}
		out = append(out, at+": "+se.Reason+namedBy(se.Value))
	}
	return out
}

// namedBy names the entry an error is about when it is an object with an id
// or key (a custom field entry refused by an anyOf), since its position
// alone does not say which field the caller sent.
func namedBy(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"id", "key"} {
		if s, ok := m[k].(string); ok && s != "" {
			return fmt.Sprintf(" (%s %q)", k, s)
		}
	}
	return ""
}
