package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hlgate/hlgate/internal/jsonproto"
)

// Every RPC of the generic path reads, without loss, an answer built from
// its official document's response schema, and the same answer made
// messier the way live answers are: a key no document declares in every
// object, and every string turned into a number and every number into a
// string. Each key reaches the caller, in a typed field or kept, with its
// JSON value, in the unmapped field of the resource it belongs to; the
// test fails on any key kept nowhere.
func TestGenericAnswersLoseNothing(t *testing.T) {
	t.Parallel()
	docs := map[string]map[string]any{}
	load := func(name string) map[string]any {
		if d, ok := docs[name]; ok {
			return d
		}
		b, err := os.ReadFile(filepath.Join("..", "api", "highlevel", name))
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		docs[name] = d
		return d
	}
	methods := make([]string, 0, len(forwards))
	for m := range forwards {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, method := range methods {
		f := forwards[method]
		t.Run(f.row.ID, func(t *testing.T) {
			doc := "apps/" + f.row.Document + ".json"
			op := lookupPath(load(doc), "paths", f.row.Path, strings.ToLower(f.row.Method))
			schema, file := successSchema(t, op, doc)
			if schema == nil {
				t.Skipf("%s declares no JSON success schema", f.row.ID)
			}
			s := &synth{t: t, load: load}
			example := s.value(schema, file, 0)
			for name, answer := range map[string]any{"documented": example, "messy": messy(example)} {
				if obj, ok := answer.(map[string]any); ok && f.row.Confirm != "" {
					// The change's confirmation is checked and taken out by
					// the generic path (confirmed), never decoded.
					obj = maps.Clone(obj)
					delete(obj, f.row.Confirm)
					answer = obj
				}
				raw, err := json.Marshal(answer)
				if err != nil {
					t.Fatal(err)
				}
				// A bare answer (the resource, or a list, itself) is put in
				// the response's field as the generic path does.
				obj, err := f.answer(raw)
				if err != nil {
					t.Fatalf("%s answer: %v", name, err)
				}
				b, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				out := f.out.New().Interface()
				rep, err := jsonproto.Decode(b, out)
				if err != nil {
					t.Fatalf("%s answer: %v", name, err)
				}
				for _, lost := range rep.Lost() {
					// The envelope of an answer is not a resource: keys it
					// has no field for (a trace id) have nowhere to be kept,
					// and are counted. Anything else must be kept.
					if lost.Kind != jsonproto.Undeclared || strings.ContainsAny(lost.Path, ".[") {
						t.Errorf("%s answer: %s (%s) kept nowhere\n%s", name, lost.Path, lost.Kind, b)
					}
				}
				if name == "documented" {
					for _, r := range rep {
						if r.Kind == jsonproto.Undeclared && r.Kept {
							t.Logf("documented key without a field of its own (kept): %s", r.Path)
						}
					}
				}
				// Kept is not enough: the documented answer must fill typed
				// fields, not land whole in unmapped.
				typed := proto.Clone(out)
				clearUnmapped(typed.ProtoReflect())
				if _, reshaped := reshapedAnswers[f.row.ID]; name == "documented" && !reshaped && proto.Size(typed) == 0 && len(b) > len("{}") && out.ProtoReflect().Descriptor().Fields().Len() > 0 {
					t.Errorf("%s answer filled no typed field of %T: %s", name, out, b)
				}
			}
		})
	}
}

// reshapedAnswers are the operations whose whole documented answer the
// overlay corrects into another shape, with the evidence's summary: the
// answer built from the document's schema is kept (in unmapped), but
// cannot fill the corrected typed fields.
var reshapedAnswers = map[string]string{
	"task-search":                "tasks declared as arrays of arrays; a task is an object (overlay)",
	"list-integration-providers": "providers declared as one object; they are a list (overlay)",
}

// clearUnmapped clears every unmapped field of m and of the messages in it.
func clearUnmapped(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == jsonproto.UnmappedField:
			m.Clear(fd)
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				clearUnmapped(v.List().Get(i).Message())
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
			clearUnmapped(v.Message())
		}
		return true
	})
}

// lookupPath walks a decoded JSON document by keys.
func lookupPath(v any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	m, _ := v.(map[string]any)
	return m
}

// successSchema is the JSON schema of the operation's first 2xx answer,
// and the document file it is in.
func successSchema(t *testing.T, op map[string]any, file string) (map[string]any, string) {
	t.Helper()
	responses, _ := op["responses"].(map[string]any)
	codes := make([]string, 0, len(responses))
	for c := range responses {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		if !strings.HasPrefix(c, "2") {
			continue
		}
		schema := lookupPath(responses[c], "content", "application/json", "schema")
		if schema != nil {
			return schema, file
		}
	}
	return nil, ""
}

// synth builds an example value of a schema: the schema's example where it
// has one, else a value of its type, objects with every property.
type synth struct {
	t    *testing.T
	load func(string) map[string]any
}

func (s *synth) resolve(schema map[string]any, file string) (map[string]any, string) {
	for range 16 {
		ref, _ := schema["$ref"].(string)
		if ref == "" {
			return schema, file
		}
		target, frag, _ := strings.Cut(ref, "#")
		if target != "" {
			file = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(file), target)))
		}
		schema = lookupPath(s.load(file), strings.Split(strings.TrimPrefix(frag, "/"), "/")...)
		if schema == nil {
			s.t.Fatalf("%s#%s resolves to nothing", file, frag)
		}
	}
	s.t.Fatalf("$ref chain too long in %s", file)
	return nil, ""
}

// exampleFits reports whether a document's example has its schema's type:
// the documented answer is built from the schema, and an example the
// schema contradicts ("true" for a boolean) is the messy answer's job.
func exampleFits(typ, ex any) bool {
	switch typ {
	case "boolean":
		_, ok := ex.(bool)
		return ok
	case "number", "integer":
		_, ok := ex.(float64)
		return ok
	case "string":
		_, ok := ex.(string)
		return ok
	}
	return true
}

func (s *synth) value(schema map[string]any, file string, depth int) any {
	schema, file = s.resolve(schema, file)
	if depth > 8 {
		return nil
	}
	if ex, ok := schema["example"]; ok && schema["type"] != "object" && schema["type"] != "array" && exampleFits(schema["type"], ex) {
		return ex
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if subs, ok := schema[k].([]any); ok && len(subs) > 0 {
			if k != "allOf" {
				return s.value(subs[0].(map[string]any), file, depth+1)
			}
			merged := map[string]any{}
			for _, sub := range subs {
				if m, ok := s.value(sub.(map[string]any), file, depth+1).(map[string]any); ok {
					for key, v := range m {
						merged[key] = v
					}
				}
			}
			return merged
		}
	}
	switch schema["type"] {
	case "object", nil:
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			if schema["type"] == nil {
				return "x"
			}
			return map[string]any{}
		}
		out := map[string]any{}
		for name, p := range props {
			out[name] = s.value(p.(map[string]any), file, depth+1)
		}
		return out
	case "array":
		items, _ := schema["items"].(map[string]any)
		if items == nil {
			return []any{}
		}
		return []any{s.value(items, file, depth+1)}
	case "string":
		if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
			return enum[0]
		}
		return "x"
	case "number", "integer":
		return 1
	case "boolean":
		return true
	}
	return "x"
}

// messy is v as live answers come: an undeclared key in every object, and
// strings and numbers swapped.
func messy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{"zzUndeclared": map[string]any{"nested": []any{1, "two"}}}
		for k, e := range x {
			out[k] = messy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = messy(e)
		}
		return out
	case string:
		return 42.5
	case float64, int:
		return fmt.Sprint(x)
	}
	return v
}

// The messy answer still decodes: a sanity check of messy itself, so the
// test above cannot pass by decoding nothing.
func TestMessyChangesEveryLeaf(t *testing.T) {
	t.Parallel()
	in := map[string]any{"a": "s", "b": []any{1.0, map[string]any{"c": "d"}}}
	got, _ := json.Marshal(messy(in))
	for _, want := range []string{`"a":42.5`, `"1"`, `"c":42.5`, `"zzUndeclared"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("messy(%v) = %s, lacks %s", in, got, want)
		}
	}
	if slices.Contains([]string{"", "{}"}, string(got)) {
		t.Fatal("messy produced nothing")
	}
}
