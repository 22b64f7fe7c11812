package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/internal/pbjson"
)

// restMarshaler is the gateway's JSON marshaler. Answers are written as
// runtime.JSONPb writes them (proto enum names, such as
// OPPORTUNITY_STATUS_WON). Bodies are read as protojson reads them, and
// also take HighLevel's own spelling of every enum value ("won",
// "cancelled", "ms_teams"), so a caller can send what HighLevel's
// documents show. A body protojson refuses is read a second time, as a
// JSON tree walked beside the message, to name the field that is wrong:
// the caller gets INVALID_ARGUMENT with a BadRequest naming it (an unknown
// key, an enum value with the values accepted, a time in another form),
// never the parser's bare text.
type restMarshaler struct {
	runtime.JSONPb
}

var _ runtime.Marshaler = (*restMarshaler)(nil)

// Marshal writes an answer. A message is written by pbjson, which writes
// what protojson writes with the options the gateway uses (the defaults)
// in a third of the time; anything else, or other options, by JSONPb.
func (j *restMarshaler) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok && j.MarshalOptions == (protojson.MarshalOptions{}) {
		return pbjson.Marshal(m)
	}
	return j.JSONPb.Marshal(v)
}

// Unmarshal reads one REST body into v.
func (j *restMarshaler) Unmarshal(data []byte, v any) error { return j.decode(data, v) }

// NewDecoder reads the whole body (boundRequests has already bounded it)
// and decodes it once; an empty body is io.EOF, which the gateway takes as
// "no body".
func (j *restMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return io.EOF
		}
		return j.decode(b, v)
	})
}

func (j *restMarshaler) decode(b []byte, v any) error {
	m := messageOf(v)
	if m == nil {
		// A body bound to a field that is not a message.
		if err := j.JSONPb.Unmarshal(b, v); err != nil {
			return inputError("body", protojsonText(err))
		}
		return nil
	}
	if err := j.UnmarshalOptions.Unmarshal(b, m); err == nil {
		return nil
	} else if !json.Valid(b) {
		return inputError("body", "is not valid JSON: "+protojsonText(err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return inputError("body", "is not valid JSON: "+err.Error())
	}
	var vs violations
	tree = restMessage(m.ProtoReflect().Descriptor(), tree, "", &vs)
	if len(vs) > 0 {
		return restInputError(vs)
	}
	// Enum spellings are now proto names; what protojson still refuses
	// (a number out of range, say) it names itself.
	fixed, err := json.Marshal(tree)
	if err != nil {
		return inputError("body", err.Error())
	}
	if err := j.UnmarshalOptions.Unmarshal(fixed, m); err != nil {
		return inputError(protojsonField(err, "body"), protojsonText(err))
	}
	return nil
}

// messageOf returns v as a message: v itself, or what a pointer to a
// message pointer points to (a body bound to a message field), allocated.
func messageOf(v any) proto.Message {
	if m, ok := v.(proto.Message); ok {
		return m
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Pointer {
		return nil
	}
	if _, ok := reflect.Zero(rv.Elem().Type()).Interface().(proto.Message); !ok {
		return nil
	}
	if rv.Elem().IsNil() {
		rv.Elem().Set(reflect.New(rv.Elem().Type().Elem()))
	}
	return rv.Elem().Interface().(proto.Message)
}

// restMessage checks a JSON value against a message and returns it with
// every enum string turned into its proto name; each mistake is added to vs
// under its JSON path (contact.customFields[0].id).
func restMessage(md protoreflect.MessageDescriptor, val any, path string, vs *violations) any {
	if val == nil {
		return nil
	}
	switch md.FullName() {
	case "google.protobuf.Value", "google.protobuf.Any":
		return val
	case "google.protobuf.Struct", "google.protobuf.Empty":
		if _, ok := val.(map[string]any); !ok {
			vs.add(fieldName(path), "must be an object")
		}
		return val
	case "google.protobuf.ListValue":
		if _, ok := val.([]any); !ok {
			vs.add(fieldName(path), "must be an array")
		}
		return val
	case "google.protobuf.Timestamp":
		if s, ok := val.(string); !ok || !isRFC3339(s) {
			vs.add(fieldName(path), "must be an RFC 3339 time such as \"2026-12-01T09:00:00Z\", not %s", jsonText(val))
		}
		return val
	case "google.protobuf.Duration":
		if s, ok := val.(string); !ok || !strings.HasSuffix(s, "s") {
			vs.add(fieldName(path), "must be a duration in seconds such as \"30s\", not %s", jsonText(val))
		}
		return val
	case "google.protobuf.FieldMask":
		if _, ok := val.(string); !ok {
			vs.add(fieldName(path), "must be a string of comma-separated field paths")
		}
		return val
	}
	if md.ParentFile() != nil && md.ParentFile().Package() == "google.protobuf" && strings.HasSuffix(string(md.Name()), "Value") {
		// A wrapper: the JSON value is the wrapped value's.
		if fd := md.Fields().ByName("value"); fd != nil {
			return restSingular(fd, val, path, vs)
		}
	}
	obj, ok := val.(map[string]any)
	if !ok {
		vs.add(fieldName(path), "must be an object")
		return val
	}
	fields := md.Fields()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := joinPath(path, k)
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(k))
		}
		if fd == nil {
			vs.add(p, "%s", unknownFieldText(md, k))
			continue
		}
		obj[k] = restField(fd, obj[k], p, vs)
	}
	return obj
}

// restField checks the value of one field: a list, a map or one value.
func restField(fd protoreflect.FieldDescriptor, val any, path string, vs *violations) any {
	switch {
	case val == nil:
		return nil
	case fd.IsList():
		arr, ok := val.([]any)
		if !ok {
			vs.add(path, "must be an array")
			return val
		}
		for i := range arr {
			arr[i] = restSingular(fd, arr[i], fmt.Sprintf("%s[%d]", path, i), vs)
		}
		return arr
	case fd.IsMap():
		obj, ok := val.(map[string]any)
		if !ok {
			vs.add(path, "must be an object")
			return val
		}
		for k, x := range obj {
			obj[k] = restSingular(fd.MapValue(), x, path+"["+k+"]", vs)
		}
		return obj
	}
	return restSingular(fd, val, path, vs)
}

// restSingular checks one value of a field's kind; an enum string is
// returned as the proto name of the value it names.
func restSingular(fd protoreflect.FieldDescriptor, val any, path string, vs *violations) any {
	if val == nil {
		return nil
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return val
		}
		switch x := val.(type) {
		case json.Number:
			return val // protojson takes a value's number
		case string:
			if ev, ok := jsonproto.ParseEnum(fd.Enum(), x); ok {
				return string(ev.Name())
			}
		}
		vs.add(path, "%s", enumText(fd.Enum(), val))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return restMessage(fd.Message(), val, path, vs)
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := val.(string); !ok {
			vs.add(path, "must be a string, not %s", jsonText(val))
		}
	case protoreflect.BoolKind:
		if _, ok := val.(bool); !ok {
			vs.add(path, "must be true or false, not %s", jsonText(val))
		}
	default: // numbers, which protojson also takes quoted
		switch val.(type) {
		case json.Number, string:
		default:
			vs.add(path, "must be a number, not %s", jsonText(val))
		}
	}
	return val
}

// enumText says which values an enum field takes: HighLevel's spellings
// first, as its documents show them, then the proto names.
func enumText(ed protoreflect.EnumDescriptor, val any) string {
	spellings, names := acceptedEnumValues(ed)
	return fmt.Sprintf("must be one of %s (or the proto names %s), not %s",
		strings.Join(spellings, ", "), strings.Join(names, ", "), jsonText(val))
}

// acceptedEnumValues lists HighLevel's spelling and the proto name of every
// value of ed but the zero value.
func acceptedEnumValues(ed protoreflect.EnumDescriptor) (spellings, names []string) {
	values := ed.Values()
	for i := 0; i < values.Len(); i++ {
		ev := values.Get(i)
		if ev.Number() == 0 {
			continue
		}
		spellings = append(spellings, jsonproto.EnumSpelling(ev))
		names = append(names, string(ev.Name()))
	}
	return spellings, names
}

// unknownFieldText names what a key that is no field of md may have meant.
func unknownFieldText(md protoreflect.MessageDescriptor, key string) string {
	best, bestD := "", 3 // at most two edits away
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		name := fields.Get(i).JSONName()
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestD {
			best, bestD = name, d
		}
	}
	msg := "is not a field of " + string(md.FullName())
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isRFC3339(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func jsonText(val any) string {
	b, err := json.Marshal(val)
	if err != nil || len(b) > 60 {
		return "a value of another type"
	}
	return string(b)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldName names the body itself when the path is empty.
func fieldName(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// protojsonText is a protojson error without its "proto: " prefix.
func protojsonText(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "proto:"), " ")
}

var protojsonFieldRe = regexp.MustCompile(`unknown field "([^"]+)"|for (?:enum |[a-z0-9]+ )?field (\w+)`)

// protojsonField finds the field a protojson error names, or returns def.
func protojsonField(err error, def string) string {
	m := protojsonFieldRe.FindStringSubmatch(err.Error())
	switch {
	case m == nil:
		return def
	case m[1] != "":
		return m[1]
	}
	return m[2]
}

// restInputError is a REST body or query the gateway could not read. The
// gateway turns a decoder's error into INVALID_ARGUMENT with the error's
// text as the message and nothing else, so the text is the one invalid
// writes ("invalid request: field: description; …"), which
// gatewayStatus reads back into a BadRequest (see violationsFromText).
type restInputError violations

func (e restInputError) Error() string { return invalidText(violations(e)) }

func inputError(field, desc string) error {
	return restInputError{{Field: field, Description: desc}}
}

// invalidText is the message of an INVALID_ARGUMENT with these violations.
// A description never holds "; ", which separates them.
func invalidText(vs violations) string {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.GetField() + ": " + strings.ReplaceAll(v.GetDescription(), "; ", ", ")
	}
	return invalidPrefix + strings.Join(msgs, "; ")
}

const invalidPrefix = "invalid request: "

// violationsFromText reads invalidText's message back.
func violationsFromText(msg string) (violations, bool) {
	rest, ok := strings.CutPrefix(msg, invalidPrefix)
	if !ok {
		return nil, false
	}
	var vs violations
	for part := range strings.SplitSeq(rest, "; ") {
		field, desc, ok := strings.Cut(part, ": ")
		if !ok || field == "" || strings.ContainsAny(field, " \"") {
			return nil, false
		}
		vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
	}
	return vs, len(vs) > 0
}

// useRESTQuery makes restQuery the gateway's query parameter parser. The
// gateway keeps one parser for the process (its option sets a package
// variable that every running mux reads), so it is set once, before the
// first mux is built, never while another serves.
func useRESTQuery() {
	restQueryOnce.Do(func() { runtime.NewServeMux(runtime.SetQueryParameterParser(restQuery{})) })
}

var restQueryOnce sync.Once

// restQuery is the gateway's query parameter parser. It reads each
// parameter on its own with the gateway's parser, so a value it refuses is
// named (the caller's spelling of the parameter) with a clear reason; it
// takes HighLevel's enum spellings as the body does, refuses a parameter
// that names no field instead of ignoring it, and refuses one field given
// twice (page_size and pageSize).
type restQuery struct{}

var _ runtime.QueryParameterParser = restQuery{}

func (restQuery) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var vs violations
	seen := map[string]string{}
	md := msg.ProtoReflect().Descriptor()
	for _, key := range keys {
		vals := values[key]
		fieldKey := key
		if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
			fieldKey = key[:i] // a map entry: field[key]=value
		}
		fds, ok := queryFieldPath(md, strings.Split(fieldKey, "."))
		if !ok {
			vs.add(key, "is not a parameter of this call")
			continue
		}
		names := make([]string, len(fds))
		for i, fd := range fds {
			names[i] = string(fd.Name())
		}
		if filter.HasCommonPrefix(names) {
			continue // the path or the body sets it
		}
		full := strings.Join(names, ".") + key[len(fieldKey):]
		if prev, dup := seen[full]; dup {
			vs.add(key, "names the same field as %s; give it once", prev)
			continue
		}
		seen[full] = key
		leaf := fds[len(fds)-1]
		if !queryValues(leaf, key, vals, &vs) {
			continue
		}
		if err := (&runtime.DefaultQueryParser{}).Parse(msg, url.Values{key: vals}, filter); err != nil {
			vs.add(key, "%s", queryErrorText(leaf, err))
		}
	}
	if len(vs) > 0 {
		return restInputError(vs)
	}
	return nil
}

// queryFieldPath resolves a dotted parameter name, each part a field's
// proto or JSON name, to its fields.
func queryFieldPath(md protoreflect.MessageDescriptor, parts []string) ([]protoreflect.FieldDescriptor, bool) {
	var fds []protoreflect.FieldDescriptor
	for i, part := range parts {
		if md == nil {
			return nil, false
		}
		fd := md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			fd = md.Fields().ByJSONName(part)
		}
		if fd == nil {
			return nil, false
		}
		fds = append(fds, fd)
		if i < len(parts)-1 {
			if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
				return nil, false
			}
			md = fd.Message()
		}
	}
	return fds, len(fds) > 0
}

// queryValues turns HighLevel's enum spellings into proto names in place
// and refuses, naming the accepted values, any value an enum field does
// not take; it also refuses epoch times where the field wants RFC 3339.
func queryValues(fd protoreflect.FieldDescriptor, key string, vals []string, vs *violations) bool {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	ok := true
	for i, s := range vals {
		switch {
		case fd.Kind() == protoreflect.EnumKind:
			if ev, found := jsonproto.ParseEnum(fd.Enum(), s); found {
				vals[i] = string(ev.Name())
			} else {
				vs.add(key, "%s", enumText(fd.Enum(), s))
				ok = false
			}
		case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "google.protobuf.Timestamp" && !isRFC3339(s):
			vs.add(key, "must be an RFC 3339 time such as 2026-12-01T09:00:00Z, not %q", s)
			ok = false
		}
	}
	return ok
}

// queryErrorText is the gateway parser's complaint, said for the caller.
func queryErrorText(fd protoreflect.FieldDescriptor, err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "parsing ") {
		msg = rest // "parsing field \"x\": …": the field is named already
	}
	kind := fd.Kind().String()
	if fd.Kind() == protoreflect.MessageKind {
		kind = string(fd.Message().Name())
	}
	return fmt.Sprintf("is not a valid %s: %s", kind, msg)
}
