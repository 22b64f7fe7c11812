package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Bounds on what a caller may send. They are far above any real request
// (HighLevel's own bodies are bounded at 1 MiB upstream) and far below what
// would hurt the process.
const (
	// DefaultMaxBodyBytes bounds a REST request body.
	DefaultMaxBodyBytes = 4 << 20
	// maxNesting bounds how deeply objects and arrays may nest in a request,
	// in JSON levels. Free-form values (custom field values) are the only
	// place a caller can nest at will; protobuf refuses to decode beyond
	// 10,000 levels, with an error that would surface as INTERNAL.
	maxNesting = 64
)

// ReasonRequestTooLarge is ErrorInfo's reason for a REST body above the bound
// (HTTP 413).
const ReasonRequestTooLarge = "REQUEST_TOO_LARGE"

// boundRequests guards the REST gateway before it decodes anything: it
// refuses an unknown caller key without reading the body, reads at most
// maxBytes of the body (413 above that, 408 when the client is too slow),
// and refuses bodies nested deeper than maxNesting (400 naming the field).
func (s *Server) boundRequests(maxBytes int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.keys != nil {
			// Authentication only; what the key may do is the interceptor's
			// decision, from the method's rule.
			presented := bearerValue(r.Header.Values("Authorization"))
			var key *CallerKey
			if presented != "" {
				key = s.keys.lookup(presented)
			}
			if key == nil {
				writeStatus(w, http.StatusUnauthorized, status.Convert(statusError(codes.Unauthenticated, "missing or unknown caller key: send \"Authorization: Bearer <key>\"", ReasonUnauthenticated)))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), authenticatedKey{}, authenticated{presented, key}))
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > maxBytes {
			tooLarge(w, maxBytes)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			var ne net.Error
			switch {
			case errors.As(err, &mbe):
				tooLarge(w, maxBytes)
			case errors.As(err, &ne) && ne.Timeout():
				writeStatus(w, http.StatusRequestTimeout, status.Convert(statusError(codes.DeadlineExceeded, "the request body did not arrive in time", ReasonDeadlineExceeded)))
			default:
				writeStatus(w, http.StatusBadRequest, status.Convert(statusError(codes.InvalidArgument, "the request body could not be read", ReasonInvalidArgument)))
			}
			return
		}
		if field, deep := jsonTooDeep(b, maxNesting); deep {
			var v violations
			v.add(field, "nests objects or arrays more than %d levels deep", maxNesting)
			writeStatus(w, http.StatusBadRequest, status.Convert(v.err()))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, maxBytes int64) {
	// The rest of the body is not read: close the connection rather than
	// drain it.
	w.Header().Set("Connection", "close")
	writeStatus(w, http.StatusRequestEntityTooLarge, status.Convert(statusError(codes.InvalidArgument,
		"the request body is larger than "+strconv.FormatInt(maxBytes, 10)+" bytes", ReasonRequestTooLarge)))
}

// writeStatus writes a status as the gateway writes its errors (the JSON form
// of google.rpc.Status), with the given HTTP code.
func writeStatus(w http.ResponseWriter, code int, st *status.Status) {
	b, err := protojson.Marshal(st.Proto())
	if err != nil {
		b = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// jsonTooDeep reports whether a JSON document nests objects and arrays more
// than limit levels, and where: the path of the first value that does, as
// dotted names with [i] for array elements (customFields[0].value[0][0]…).
// A first pass only counts brackets outside strings, so the usual body costs
// one scan and no allocation; the path is worked out only for a body that is
// refused. Malformed JSON is left to the decoder, which reports it.
func jsonTooDeep(b []byte, limit int) (string, bool) {
	depth, inString, escaped := 0, false, false
	deep := false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				deep = true
			}
		case '}', ']':
			depth--
		}
		if deep {
			break
		}
	}
	if !deep {
		return "", false
	}
	return jsonDeepPath(b, limit), true
}

// jsonDeepPath walks the tokens of b to the first value nested deeper than
// limit and names it.
func jsonDeepPath(b []byte, limit int) string {
	type frame struct {
		array bool
		index int
		key   string
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []frame
	expectKey := false
	name := func() string {
		var sb strings.Builder
		for i, f := range stack {
			if f.array {
				sb.WriteString("[" + strconv.Itoa(f.index) + "]")
				continue
			}
			if f.key == "" {
				continue
			}
			if i > 0 && sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(f.key)
		}
		if sb.Len() == 0 {
			return "body"
		}
		return sb.String()
	}
	// afterValue moves the enclosing container past one value.
	afterValue := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				expectKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return name()
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= limit {
					return name()
				}
				stack = append(stack, frame{array: t == '['})
				expectKey = t == '{'
			case '}', ']':
				stack = stack[:len(stack)-1]
				afterValue()
			}
		case string:
			if expectKey && len(stack) > 0 && !stack[len(stack)-1].array {
				stack[len(stack)-1].key = t
				expectKey = false
				continue
			}
			afterValue()
		default:
			afterValue()
		}
	}
}

// messageTooDeep reports whether a request nests messages more than limit
// levels deep, and the path of the first field that does. A gRPC caller can
// nest google.protobuf.Value at will (custom field values); the REST side is
// bounded by jsonTooDeep before decoding, and this applies the same bound to
// gRPC callers, in the same JSON terms (a Value wrapper is not a level of
// its own). Only message types that can nest without end (those that reach
// a Value, Struct or ListValue) are walked, so ordinary requests cost
// nothing.
func messageTooDeep(m proto.Message, limit int) (string, bool) {
	r := m.ProtoReflect()
	if !recursive(r.Descriptor()) {
		return "", false
	}
	return walkDepth(r, 1, limit, "")
}

func walkDepth(m protoreflect.Message, depth, limit int, path string) (string, bool) {
	if depth > limit {
		if path == "" {
			path = "request"
		}
		return path, true
	}
	var (
		where string
		deep  bool
	)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		elem := fd.Message()
		if fd.IsMap() {
			elem = fd.MapValue().Message()
		}
		if elem == nil || !recursive(elem) {
			return true
		}
		name := fd.TextName()
		if path != "" {
			name = path + "." + name
		}
		// Every message entered is one JSON level (an object, or for a
		// ListValue an array), except a Value, which only wraps the level
		// it holds.
		next := depth + 1
		if elem.FullName() == "google.protobuf.Value" {
			next = depth
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && !deep; i++ {
				where, deep = walkDepth(l.Get(i).Message(), next, limit, name+"["+strconv.Itoa(i)+"]")
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				where, deep = walkDepth(mv.Message(), next, limit, name+"."+k.String())
				return !deep
			})
		default:
			where, deep = walkDepth(v.Message(), next, limit, name)
		}
		return !deep
	})
	return where, deep
}

// recursiveTypes caches, per message type, whether it can nest without end.
var recursiveTypes sync.Map // protoreflect.FullName → bool

// recursive reports whether md can reach itself or a well-known free-form
// type through its message fields.
func recursive(md protoreflect.MessageDescriptor) bool {
	if v, ok := recursiveTypes.Load(md.FullName()); ok {
		return v.(bool)
	}
	v := reaches(md, map[protoreflect.FullName]bool{})
	recursiveTypes.Store(md.FullName(), v)
	return v
}

func reaches(md protoreflect.MessageDescriptor, visiting map[protoreflect.FullName]bool) bool {
	switch md.FullName() {
	case "google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue":
		return true
	}
	if visiting[md.FullName()] {
		return true
	}
	visiting[md.FullName()] = true
	defer delete(visiting, md.FullName())
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if sub := fields.Get(i).Message(); sub != nil && reaches(sub, visiting) {
			return true
		}
	}
	return false
}
