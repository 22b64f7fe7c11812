package server

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/hlgate/hlgate/internal/jsonproto"
)

// Every upstream-paged operation's answer, in the shape its pager reads
// (records under Items, each with its cursor keys, and the total and
// cursor keys beside them), is decoded by the stream, with the paging
// state taken out as take takes it.
func TestEveryPageStreams(t *testing.T) {
	t.Parallel()
	names := make([]string, 0, len(forwards))
	for name, f := range forwards {
		if f.paging != nil && f.paging.pager != nil && f.bareList == nil && !f.row.Bare {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 10 {
		t.Fatalf("only %d upstream-paged operations", len(names))
	}
	for _, name := range names {
		f := forwards[name]
		spec := f.paging.spec
		record := map[string]any{}
		for _, k := range spec.ItemTake {
			record[k] = []any{1, "x"}
		}
		answer := map[string]any{spec.Items: []any{record, record}}
		for _, k := range spec.Take {
			answer[k] = map[string]any{"total": 2, "startAfter": 1, "startAfterId": "x"}
		}
		b, err := json.Marshal(answer)
		if err != nil {
			t.Fatal(err)
		}
		pg, _, err := jsonproto.DecodePage(b, f.out.New().Interface(), spec)
		// Records of free-form values (google.protobuf.Value) are the
		// tree's: they are parsed whole either way.
		freeForm := f.paging.items.Message().FullName() == "google.protobuf.Value"
		if err != nil || pg.Streamed == freeForm || pg.Items != 2 {
			t.Errorf("%s (%s): %s decoded as %+v, %v; want 2 records, streamed %v", name, f.row.ID, b, pg, err, !freeForm)
		}
	}
}
