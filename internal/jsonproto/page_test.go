package jsonproto

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/dynamicpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// pageCases are the messages and specs the page tests decode with: a
// generated page of contacts, with and without a record cursor, and a
// dynamic resource whose custom fields stand for the records.
func pageCases(tb testing.TB) []struct {
	msg  func() proto.Message
	spec PageSpec
} {
	resource := dynamicpb.NewMessageType(testFile(tb).Messages().ByName("Resource"))
	contacts := func() proto.Message { return &hlgatev1.SearchContactsResponse{} }
	return []struct {
		msg  func() proto.Message
		spec PageSpec
	}{
		{contacts, PageSpec{Take: []string{"total", "meta", "succeded"}, Items: "contacts", ItemTake: []string{"searchAfter"}}},
		{contacts, PageSpec{Take: []string{"meta"}, Items: "contacts"}},
		{contacts, PageSpec{Take: []string{"total"}, Items: "records", ItemTake: []string{"id"}}},
		{func() proto.Message { return resource.New().Interface() }, PageSpec{Take: []string{"count", "meta"}, Items: "customFields", ItemTake: []string{"id"}}},
	}
}

// A page HighLevel's way streams: the stream takes the keys out itself.
func TestDecodePageStreams(t *testing.T) {
	t.Parallel()
	for _, tc := range pageCases(t)[:2] {
		in := []byte(`{"contacts":[{"id":"a","searchAfter":[1,"a"],"tags":["x"]},{"id":"b","searchAfter":[2,"b"]}],"total":2,"meta":{"startAfterId":"b"},"traceId":"t"}`)
		s := streamer{parser: parser{data: in, whole: string(in)}, passOmitted: true, page: &pageState{spec: tc.spec}}
		m := tc.msg()
		if _, err := s.top(m.ProtoReflect(), ""); err != nil {
			t.Fatalf("%+v: the stream restarted: %v", tc.spec, err)
		}
		pg, err := s.page.result()
		if err != nil || pg.Items != 2 || len(m.(*hlgatev1.SearchContactsResponse).GetContacts()) != 2 {
			t.Fatalf("%+v: page %+v, %v; decoded %v", tc.spec, pg, err, m)
		}
		if got := pg.Taken["meta"].(map[string]any)["startAfterId"]; got != "b" {
			t.Errorf("%+v: meta.startAfterId = %v", tc.spec, got)
		}
		if len(tc.spec.ItemTake) > 0 && !sameJSON(pg.Last["searchAfter"], []any{json.Number("2"), "b"}) {
			t.Errorf("%+v: the last record's cursor = %v", tc.spec, pg.Last)
		}
	}
}

// DecodePage gives what TakePage and DecodeMap give: the same message,
// report, taken values, record count and last record's values, and an
// error for the same inputs.
func FuzzDecodePageMatchesTree(f *testing.F) {
	for _, seed := range []string{
		`{"contacts":[{"id":"a","searchAfter":[1,"a"]},{"id":"b","searchAfter":[2,"b"],"zz":1}],"total":2,"meta":{"startAfter":1},"traceId":"t"}`,
		`{"contacts":[{"id":"a"},null],"total":1}`, `{"contacts":null,"total":"1"}`, `{"contacts":{},"meta":[]}`,
		`{"contacts":[],"total":0}`, `{"contacts":[1]}`, `{"total":1,"total":2}`, `{"contacts":[{"id":"a"}],"contacts":[]}`,
		`{"records":[{"id":"r","x":1},"s"],"total":3,"contacts":[{"firstName":"a","first_name":"b"}]}`,
		`{"customFields":[{"id":"f","value":{"a":1}},{"id":"g","value":2}],"count":2,"meta":{"next":"x"},"firstName":"n"}`,
		`{"customFields":[{"value":1}],"tags":["t"],"dateAdded":"1738815780000"}`, `[]`, `{"contacts":[{}`,
	} {
		f.Add([]byte(seed))
	}
	cases := pageCases(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tc := range cases {
			stream, tree := tc.msg(), tc.msg()
			spg, srep, serr := DecodePage(data, stream, tc.spec)
			tpg, trep, terr := decodePageTree(data, tree, tc.spec)
			if (serr == nil) != (terr == nil) || serr != nil && serr.Error() != terr.Error() {
				t.Fatalf("%+v: stream error %v, tree error %v", tc.spec, serr, terr)
			}
			if d := cmp.Diff(tree, stream, protocmp.Transform()); d != "" {
				t.Errorf("%+v: message (-tree +stream):\n%s", tc.spec, d)
			}
			if d := cmp.Diff(trep, srep); d != "" {
				t.Errorf("%+v: report (-tree +stream):\n%s", tc.spec, d)
			}
			if spg.Items != tpg.Items || !sameJSON(mapOrNil(spg.Taken), mapOrNil(tpg.Taken)) || !sameJSON(mapOrNil(spg.Last), mapOrNil(tpg.Last)) {
				t.Errorf("%+v: page %+v from the stream, %+v from the tree", tc.spec, spg, tpg)
			}
		}
	})
}

// mapOrNil is m as sameJSON compares it: a nil map as JSON null.
func mapOrNil(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// What the stream saves over the tree on a page of 20 of HighLevel's
// contacts.
func BenchmarkDecodePage(b *testing.B) {
	contact := goldenContact(b)
	page := []byte(`{"contacts":[`)
	for i := range 20 {
		if i > 0 {
			page = append(page, ',')
		}
		page = append(page, contact...)
	}
	page = append(page, `],"total":20,"meta":{"startAfterId":"x","startAfter":1}}`...)
	spec := PageSpec{Take: []string{"total", "meta"}, Items: "contacts"}
	for _, bc := range []struct {
		name   string
		decode func([]byte, proto.Message, PageSpec) (Page, Report, error)
	}{{"stream", DecodePage}, {"tree", decodePageTree}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var out hlgatev1.SearchContactsResponse
				if _, _, err := bc.decode(page, &out, spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
