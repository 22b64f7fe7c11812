package jsonproto

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protopath"
	"google.golang.org/protobuf/reflect/protorange"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/dynamicpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// goldenContact is the contact object of HighLevel's GetContact answer
// in the golden answers, as its JSON.
func goldenContact(tb testing.TB) string {
	tb.Helper()
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(goldenAnswers(tb)["contacts/get_contact.json"], &answer); err != nil || answer["contact"] == nil {
		tb.Fatalf("the golden GetContact answer has no contact: %v", err)
	}
	return string(answer["contact"])
}

// HighLevel's recorded answers, the server's golden files: what the stream
// decoder meets in production.
func goldenAnswers(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../../server/testdata/*/*.json")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no golden answers: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p)] = b
	}
	return out
}

// Inputs that make the stream decoder leave the choice to the tree.
var restartCases = map[string]struct {
	msg func() proto.Message
	in  string
}{
	"a read alias beside the primary key": {func() proto.Message { return &hlgatev1.Opportunity{} },
		`{"customFields":[{"id":"f","fieldValue":12.5,"fieldValueString":"x"}]}`},
	"the proto name beside the JSON name": {func() proto.Message { return &hlgatev1.Contact{} },
		`{"firstName":"Ada","first_name":"Grace"}`},
	"a key in another case": {func() proto.Message { return &hlgatev1.Contact{} },
		`{"FIRSTNAME":"Ada","firstName":"Grace"}`},
	"a declared key twice": {func() proto.Message { return &hlgatev1.Contact{} },
		`{"firstName":"Ada","firstName":"Grace"}`},
	"an undeclared key twice": {func() proto.Message { return &hlgatev1.Contact{} },
		`{"x":1,"x":2}`},
	"two members of a oneof": {func() proto.Message { return &hlgatev1.ListEventsRequest{} },
		`{"calendarId":"c","userId":"u"}`},
	"a literal dotted key beside a nested kept key": {func() proto.Message { return &hlgatev1.Contact{} },
		`{"dndSettings.Email.x":2,"dndSettings":{"Email":{"x":1}}}`},
	"not JSON":        {func() proto.Message { return &hlgatev1.Contact{} }, `{"firstName":}`},
	"not an object":   {func() proto.Message { return &hlgatev1.Contact{} }, `[]`},
	"after the value": {func() proto.Message { return &hlgatev1.Contact{} }, `{} x`},
}

// The stream decides HighLevel's real answers on its own, and leaves to
// the tree exactly the inputs whose outcome depends on keys it has not read.
func TestStreamDecides(t *testing.T) {
	t.Parallel()
	for name, b := range goldenAnswers(t) {
		s := streamer{parser: parser{data: b}}
		if _, err := s.top((&hlgatev1.GetContactResponse{}).ProtoReflect(), ""); err != nil {
			t.Errorf("%s: the stream restarted: %v", name, err)
		}
	}
	// A search page's contacts stream too.
	page := []byte(`[{"id":"a","firstName":"Ada","searchAfter":[1,"a"],"customFields":[{"id":"f","value":2}]},null,{"id":"b"}]`)
	s := streamer{parser: parser{data: page}}
	if _, _, err := s.items(func() proto.Message { return &hlgatev1.Contact{} }, "searchAfter"); err != nil {
		t.Errorf("a page of contacts: the stream restarted: %v", err)
	}
	for name, tc := range restartCases {
		s := streamer{parser: parser{data: []byte(tc.in)}}
		if _, err := s.top(tc.msg().ProtoReflect(), ""); !errors.Is(err, errRestart) {
			t.Errorf("%s: %s streamed to the end (err %v); the tree must decide it", name, tc.in, err)
		}
	}
}

// Whatever the input, the stream decoder gives what the tree decoder
// gives: the same message, the same report in the same order, the same
// omitted value, and an error for the same inputs.
func FuzzStreamMatchesTree(f *testing.F) {
	for _, b := range goldenAnswers(f) {
		f.Add(b)
	}
	for _, tc := range restartCases {
		f.Add([]byte(tc.in))
	}
	for _, seed := range []string{
		upstreamContact,
		`{"succeded":true,"contact":{"id":"c","tags":["a",1],"customFields":[{"id":"x","value":{"a":[1]}},null]}}`,
		`{"contact":{"customFields":[{"id":"x","zz":1},{"id":"y","aa":2},"no"],"b":1,"a":{"c":2}},"traceId":"t"}`,
		`{"contact":{"dateAdded":1700000000000,"dndSettings":{"SMS":{"status":"active"},"Email":{"x":1}}}}`,
		`{"_id":"o1","contactSnapshot":{"name":"N"},"amountSummary":{"subtotal":1},"items":[{"price":{"amount":2}}]}`,
		`{"order":{"_id":"o1","items":[{"_id":"i","qty":"2"}]},"succeded":1}`,
		`{"count":"1","owner":{"name":1,"x":2},"custom_fields":[{"value":null,"y":3}],"status":"won","unmapped":{"a":1}}`,
		`{"calendarId":null,"userId":"u","groupId":null}`,
		`{"tags":["a","b"],"dateAdded":"1738815780000","details":{"a":[1,{"b":9007199254740993}],"a":2},"history":[[],{},null,-0.5e3]}`,
		`{"_id":"i","businessDetails":{"name":"n","address":{"city":"c"}},"discount":[1],"invoiceItems":[{"a":1}]}`,
		`{"contact":{"tags":[],"dateUpdated":"yesterday","customFields":[{"id":"f","value":"\u00e9t\u00e9"}]}}`,
	} {
		f.Add([]byte(seed))
	}
	resource := dynamicpb.NewMessageType(testFile(f).Messages().ByName("Resource"))
	types := []func() proto.Message{
		func() proto.Message { return &hlgatev1.GetContactResponse{} },
		func() proto.Message { return &hlgatev1.Contact{} },
		func() proto.Message { return &hlgatev1.Opportunity{} },
		func() proto.Message { return &hlgatev1.Order{} },
		func() proto.Message { return &hlgatev1.GetOrderResponse{} },
		func() proto.Message { return &hlgatev1.ListEventsRequest{} },
		func() proto.Message { return &hlgatev1.CreateInvoiceResponse{} },
		func() proto.Message { return resource.New().Interface() },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			stream, tree := typ(), typ()
			ssaid, srep, serr := DecodeWithout(data, stream, "succeded")
			tsaid, trep, terr := decodeTree(data, tree, "succeded")
			if (serr == nil) != (terr == nil) || serr != nil && serr.Error() != terr.Error() {
				t.Fatalf("%T: stream error %v, tree error %v", stream, serr, terr)
			}
			if d := cmp.Diff(tree, stream, protocmp.Transform()); d != "" {
				t.Errorf("%T: message (-tree +stream):\n%s", stream, d)
			}
			if d := cmp.Diff(trep, srep); d != "" {
				t.Errorf("%T: report (-tree +stream):\n%s", stream, d)
			}
			if !sameJSON(ssaid, tsaid) {
				t.Errorf("%T: omitted value %v from the stream, %v from the tree", stream, ssaid, tsaid)
			}
		}
	})
}

// What the stream saves over the tree, on HighLevel's contact.
func BenchmarkDecodeContact(b *testing.B) {
	answer := goldenAnswers(b)["contacts/get_contact.json"]
	for _, bc := range []struct {
		name   string
		decode func([]byte, proto.Message) (any, Report, error)
	}{{"stream", func(d []byte, m proto.Message) (any, Report, error) { return DecodeWithout(d, m, "") }},
		{"tree", func(d []byte, m proto.Message) (any, Report, error) { return decodeTree(d, m, "") }}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var out hlgatev1.GetContactResponse
				if _, _, err := bc.decode(answer, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The values known.go reads (lists of strings, free-form values, times
// written as strings) are read there, in generated and dynamic messages
// alike, and give what the tree gives.
func TestStreamReadsKnownValues(t *testing.T) {
	t.Parallel()
	resource := dynamicpb.NewMessageType(testFile(t).Messages().ByName("Resource"))
	contact := func() proto.Message { return &hlgatev1.Contact{} }
	dynamic := func() proto.Message { return resource.New().Interface() }
	for _, tc := range []struct {
		msg      func() proto.Message
		key, val string
	}{
		{contact, "tags", `["vip", "a\"b", "\u00e9"]`},
		{contact, "dateAdded", `"2025-02-06T04:23:00.000Z"`},
		{contact, "dateAdded", `"1738815780000"`}, // epoch milliseconds: coerced
		{contact, "dateAdded", `"yesterday"`},     // no time: kept
		{func() proto.Message { return &hlgatev1.CustomField{} }, "value", `{"a":[1,"x",true,null,{"b":9007199254740993}],"a":0.5}`},
		{func() proto.Message { return &hlgatev1.CustomField{} }, "value", `-12.5e-1`},
		{func() proto.Message { return &hlgatev1.CreateInvoiceResponse{} }, "businessDetails", `{"name":"n","address":{"city":"c"}}`},
		{dynamic, "tags", `["x"]`},
		{dynamic, "dateAdded", `"2025-02-06T04:23:00+02:00"`},
		{dynamic, "details", `{"k":[{}]}`},
		{dynamic, "history", `[1,[2,"3"],{"a":null}]`},
	} {
		m := tc.msg().ProtoReflect()
		kt := keyTableOf(m.Descriptor())
		cl, ok := kt.claim(tc.key)
		if !ok {
			t.Fatalf("%s: no field for %q", m.Descriptor().FullName(), tc.key)
		}
		s := streamer{parser: parser{data: []byte(tc.val), whole: tc.val}}
		k := keeper{m: m, fd: kt.unmapped, collided: &s.collision}
		s.path.push(tc.key)
		done, err := s.known(m, fieldSetterOf(m), cl.fd, k, 1)
		if !done || err != nil || s.i != len(tc.val) {
			t.Errorf("%s %s: known read %d of %d bytes (done %v, err %v)", tc.key, tc.val, s.i, len(tc.val), done, err)
			continue
		}
		obj := []byte(`{"` + tc.key + `":` + tc.val + `}`)
		stream, tree := tc.msg(), tc.msg()
		_, srep, serr := DecodeWithout(obj, stream, "")
		_, trep, terr := decodeTree(obj, tree, "")
		if serr != nil || terr != nil {
			t.Fatalf("%s: %v, %v", obj, serr, terr)
		}
		if d := cmp.Diff(tree, stream, protocmp.Transform()); d != "" {
			t.Errorf("%s: message (-tree +stream):\n%s", obj, d)
		}
		if d := cmp.Diff(trep, srep); d != "" {
			t.Errorf("%s: report (-tree +stream):\n%s", obj, d)
		}
	}
	// Anything else is left where it is for the tree's rules.
	m := (&hlgatev1.Contact{}).ProtoReflect()
	for key, val := range map[string]string{"tags": `["a",1]`, "dateAdded": `1738815780000`} {
		fd := m.Descriptor().Fields().ByJSONName(key)
		s := streamer{parser: parser{data: []byte(val)}}
		if done, err := s.known(m, fieldSetterOf(m), fd, keeper{}, 1); done || err != nil || s.i != 0 {
			t.Errorf("%s %s: known took it (done %v, err %v, at %d)", key, val, done, err, s.i)
		}
	}
}

// A stream decode cuts its strings from one copy of the answer instead of
// allocating each: decoding HighLevel's contact makes fewer allocations
// than the contact has strings.
func TestStreamCutsStringsFromTheAnswer(t *testing.T) {
	answer := goldenAnswers(t)["contacts/get_contact.json"]
	var out hlgatev1.GetContactResponse
	if _, err := Decode(answer, &out); err != nil {
		t.Fatal(err)
	}
	strs := 0
	err := protorange.Range(out.ProtoReflect(), func(p protopath.Values) error {
		last := p.Index(-1)
		if _, ok := last.Value.Interface().(string); ok && last.Value.String() != "" {
			strs++
		}
		if last.Step.Kind() == protopath.MapIndexStep {
			strs++ // a Struct's key
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		var o hlgatev1.GetContactResponse
		if _, err := Decode(answer, &o); err != nil {
			t.Fatal(err)
		}
	})
	if allocs >= float64(strs) {
		t.Errorf("decoding the golden contact made %.0f allocations for its %d strings and everything else", allocs, strs)
	}
}

// setString sets every plain string field of every hlgate message in place
// exactly as protoreflect's Set does, and leaves the rest to Set; setList
// does the same for every list of strings, and every list of messages is
// found as its Go slice.
func TestSetStringMatchesSet(t *testing.T) {
	t.Parallel()
	fd := (&hlgatev1.Contact{}).ProtoReflect().Descriptor().ParentFile()
	n, lists, messageLists := 0, 0, 0
	protoregistry.GlobalFiles.RangeFilesByPackage(fd.Package(), func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Messages().Len(); i++ {
			md := f.Messages().Get(i)
			mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
			if err != nil {
				t.Fatal(err)
			}
			fields := md.Fields()
			for j := 0; j < fields.Len(); j++ {
				field := fields.Get(j)
				if field.IsList() && field.Kind() == protoreflect.MessageKind {
					// Lists of messages: built as their Go slices.
					if !fieldSetterOf(mt.New()).messages(field).IsValid() {
						t.Errorf("%s: a list of messages the stream builds through protoreflect", field.FullName())
					}
					messageLists++
					continue
				}
				if field.Kind() != protoreflect.StringKind || field.IsMap() {
					continue
				}
				if field.IsList() {
					// Lists of strings: set in place, as Set sets them.
					ss := fieldSetterOf(mt.New())
					if ss.idx[field.Index()] < 0 {
						t.Errorf("%s: a list of strings that setList sets through Set", field.FullName())
					}
					direct, viaSet := mt.New(), mt.New()
					ss = fieldSetterOf(direct)
					ss.setList(direct, field, []string{"a", "v-" + string(field.Name())})
					l := viaSet.Mutable(field).List()
					l.Append(protoreflect.ValueOfString("a"))
					l.Append(protoreflect.ValueOfString("v-" + string(field.Name())))
					if !proto.Equal(direct.Interface(), viaSet.Interface()) {
						t.Errorf("%s: setList gave %v, Set %v", field.FullName(), direct, viaSet)
					}
					lists++
					continue
				}
				if field.ContainingOneof() == nil && fieldSetterOf(mt.New()).idx[field.Index()] < 0 {
					t.Errorf("%s: a plain string field that setString sets through Set", field.FullName())
				}
				direct, viaSet := mt.New(), mt.New()
				setString(direct, field, "v-"+string(field.Name()))
				viaSet.Set(field, protoreflect.ValueOfString("v-"+string(field.Name())))
				if !proto.Equal(direct.Interface(), viaSet.Interface()) {
					t.Errorf("%s: setString gave %v, Set %v", field.FullName(), direct, viaSet)
				}
				n++
			}
		}
		return true
	})
	if n < 100 || lists < 20 || messageLists < 20 {
		t.Errorf("only %d string fields, %d lists of strings and %d lists of messages checked", n, lists, messageLists)
	}
}

// A key in another case claims the field strings.EqualFold finds first,
// through the lower-case table for ASCII keys as through the scan.
func TestClaimFoldsLikeEqualFold(t *testing.T) {
	t.Parallel()
	kt := keyTableOf((&hlgatev1.Contact{}).ProtoReflect().Descriptor())
	scan := func(key string) int {
		for i := range kt.decl {
			if strings.EqualFold(kt.primary[i], key) {
				return i
			}
		}
		return -1
	}
	keys := []string{"EMAIL", "Email", "FirstName", "FIRSTNAME", "dndsettings", "nothing", "", "\u017Fource"}
	for _, p := range kt.primary {
		keys = append(keys, strings.ToUpper(p), strings.ToUpper(p[:1])+p[1:], p+"X")
	}
	for _, key := range keys {
		if _, exact := kt.byKey[key]; exact {
			continue
		}
		want := scan(key)
		cl, ok := kt.claim(key)
		if got := map[bool]int{true: cl.index, false: -1}[ok]; got != want {
			t.Errorf("claim(%q) = field %d, want %d", key, got, want)
		}
	}
}

// Members finds what Parse finds at the top of an object, and fails where
// Parse fails, with Parse's error.
func FuzzMembersMatchesParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(`{"contacts":[{"id":"a"},null],"total":41,"x":{"y":[1,{"z":"\u00e9"}]},"x":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		members, merr := Members(data)
		v, perr := Parse(data)
		obj, isObj := v.(map[string]any)
		switch {
		case perr != nil:
			if merr == nil || merr.Error() != perr.Error() {
				t.Fatalf("Members error %v, Parse error %v", merr, perr)
			}
			return
		case !isObj:
			if merr == nil {
				t.Fatalf("Members took %s, which is not an object", data)
			}
			return
		case merr != nil:
			t.Fatalf("Members refused an object Parse reads: %v", merr)
		}
		if len(members) != len(obj) {
			t.Fatalf("Members found %d members, Parse %d", len(members), len(obj))
		}
		for k, raw := range members {
			mv, err := Parse(raw)
			if err != nil || !sameJSON(mv, obj[k]) {
				t.Errorf("member %q: %s (%v), Parse has %v", k, raw, err, obj[k])
			}
		}
	})
}

// DecodeList streams what the tree decodes: the same items, the same last
// omitted value, the same report, the same errors.
func FuzzDecodeListMatchesTree(f *testing.F) {
	for _, seed := range []string{
		`[{"id":"a","searchAfter":[1,"a"]},null,{"firstName":"x","zz":1,"customFields":[{"id":"c","value":2}]}]`,
		`[{"id":"a","searchAfter":[1,"a"]},{"id":"b","searchAfter":[2.5e3,"\u00e9",{"k":[null,true]}]}]`,
		`[{"searchAfter":1},{"id":"b"}]`, `[{"searchAfter":1},null]`, `[{"searchAfter":[1,"x"],"searchAfter":2}]`,
		`null`, `[]`, `["a"]`, `{}`, `[{"firstName":"a","first_name":"b"}]`, `[{"x":1,"x":2}]`, `[{}, 1]`, `[{}`,
	} {
		f.Add([]byte(seed))
	}
	newContact := func() proto.Message { return &hlgatev1.Contact{} }
	f.Fuzz(func(t *testing.T, data []byte) {
		sitems, ssaid, srep, serr := DecodeList(data, newContact, "searchAfter")
		titems, tsaid, trep, terr := decodeListTree(data, newContact, "searchAfter")
		if (serr == nil) != (terr == nil) || serr != nil && serr.Error() != terr.Error() {
			t.Fatalf("stream error %v, tree error %v", serr, terr)
		}
		if d := cmp.Diff(titems, sitems, protocmp.Transform()); d != "" {
			t.Errorf("items (-tree +stream):\n%s", d)
		}
		if d := cmp.Diff(trep, srep); d != "" {
			t.Errorf("report (-tree +stream):\n%s", d)
		}
		if !sameJSON(ssaid, tsaid) {
			t.Errorf("the last item's omitted value: %v from the stream, %v from the tree", ssaid, tsaid)
		}
	})
}

// DecodeListMember reads a page's envelope and decodes its list in one
// pass, and gives exactly what Members and then DecodeList of the list's
// member give: the same members, items, cursor, report and errors.
func FuzzDecodeListMemberMatchesTwoPasses(f *testing.F) {
	contact := goldenContact(f)
	for _, seed := range []string{
		`{"contacts":[` + contact + `,` + contact + `],"total":2,"traceId":"t"}`,
		`{"total":1,"contacts":[{"id":"a","searchAfter":[1,"a"]},null,{"firstName":"x","zz":1}]}`,
		`{"contacts":[{"id":"a","searchAfter":[1,"a"]}],"contacts":[{"id":"b"}]}`,
		`{"contacts":null}`, `{"contacts":[]}`, `{}`, `{"total":3}`, `{"contacts":["a"]}`, `{"contacts":[{}, 1]}`,
		`{"contacts":[{"x":1,"x":2}]}`, `{"contacts":[{"firstName":"a","first_name":"b"}]}`,
		`{"contacts":[{}]`, `{"contacts":[{}]}x`, `[]`, `null`, `{"contacts":{}}`, ` { "contacts" : [ ] , "a" : [1, {"b":2}] } `,
	} {
		f.Add([]byte(seed))
	}
	newContact := func() proto.Message { return &hlgatev1.Contact{} }
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gerr := DecodeListMember(data, "contacts", newContact, "searchAfter")
		var want ListPage
		members, werr := Members(data)
		if werr == nil {
			want.Members = members
			if raw, ok := members["contacts"]; ok {
				delete(members, "contacts")
				want.Found = true
				if want.Items, want.Last, want.Report, werr = DecodeList(raw, newContact, "searchAfter"); werr != nil {
					werr = listError("contacts", werr)
				}
			}
		}
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("one pass: error %v; two passes: error %v", gerr, werr)
		}
		if gerr != nil {
			return
		}
		if d := cmp.Diff(want.Members, got.Members); d != "" {
			t.Errorf("members (-two passes +one):\n%s", d)
		}
		if got.Found != want.Found {
			t.Errorf("found the list: %v in one pass, %v in two", got.Found, want.Found)
		}
		if d := cmp.Diff(want.Items, got.Items, protocmp.Transform()); d != "" {
			t.Errorf("items (-two passes +one):\n%s", d)
		}
		if d := cmp.Diff(want.Report, got.Report); d != "" {
			t.Errorf("report (-two passes +one):\n%s", d)
		}
		if !sameJSON(got.Last, want.Last) {
			t.Errorf("the last item's omitted value: %v in one pass, %v in two", got.Last, want.Last)
		}
	})
}

// A page as HighLevel answers it is read in the one pass, not left to the
// two: the fuzz test above holds the pass to them only where it runs.
func TestListMemberOfAPageStreams(t *testing.T) {
	contact := goldenContact(t)
	page := []byte(`{"contacts":[` + contact + `,` + contact + `],"total":2,"traceId":"t"}`)
	pg, ok := streamListMember(page, "contacts", func() proto.Message { return &hlgatev1.Contact{} }, "searchAfter")
	if !ok {
		t.Fatal("the page was left to the two passes")
	}
	if len(pg.Items) != 2 || !pg.Found || string(pg.Members["total"]) != "2" || len(pg.Members) != 2 {
		t.Fatalf("read %d items (found %v), members %q", len(pg.Items), pg.Found, pg.Members)
	}
	if id := pg.Items[1].(*hlgatev1.Contact).GetId(); id != "seD4PfOuKoVMLkEZqohJ" {
		t.Errorf("second contact's id %q", id)
	}
}
