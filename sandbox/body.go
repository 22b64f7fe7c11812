package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// decodeBody reads a JSON request body strictly: the body must be JSON, and
// a member the operation does not declare is refused with 422 "property X
// should not exist", the way upstream's validation pipe words it, rather
// than silently ignored.
func decodeBody(r *http.Request, v any) *apiError {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return errBadRequest("Content-Type must be application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errBadRequest("request body is required")
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return errUnprocessable(fmt.Sprintf("%s must be a %s", field, jsonKind(te.Type.String())))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return errUnprocessable(fmt.Sprintf("property %s should not exist", name))
		default:
			return errBadRequest("request body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return errBadRequest("request body has data after the JSON value")
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "string"):
		return "string"
	case strings.Contains(goType, "bool"):
		return "boolean"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "number"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	default:
		return "object"
	}
}

// required lists "<name> should not be empty" for every empty member.
func required(pairs ...string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			out = append(out, pairs[i]+" should not be empty")
		}
	}
	return out
}

// queryInt parses an optional integer query parameter within [lo, hi]; the
// document types some as number, so a whole float ("20.0") is accepted too.
func queryInt(q url.Values, name string, def, lo, hi int) (int, string) {
	v := q.Get(name)
	if v == "" {
		return def, ""
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != float64(int(f)) || int(f) < lo || int(f) > hi {
		return 0, fmt.Sprintf("%s must be an integer between %d and %d", name, lo, hi)
	}
	return int(f), ""
}

// queryBool parses an optional boolean query parameter.
func queryBool(q url.Values, name string) (bool, string) {
	switch q.Get(name) {
	case "":
		return false, ""
	case "true":
		return true, ""
	case "false":
		return false, ""
	default:
		return false, name + " must be a boolean value"
	}
}

// queryMillis parses a required epoch-milliseconds query parameter.
func queryMillis(q url.Values, name string) (time.Time, string) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, name + " should not be empty"
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, name + " must be epoch milliseconds"
	}
	return time.UnixMilli(n), ""
}

// problems collects validation messages into one 422.
type problems []string

func (p *problems) add(msgs ...string) {
	for _, m := range msgs {
		if m != "" {
			*p = append(*p, m)
		}
	}
}

func (p problems) err() *apiError {
	if len(p) == 0 {
		return nil
	}
	return errUnprocessable(p...)
}
