package server

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readAll reads what io.ReadAll reads, whatever length the answer declares.
func TestReadAllMatchesReadAll(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789abcdef"), 300) // 4,800 bytes
	for _, c := range []struct {
		name     string
		declared int64
	}{
		{"its length", int64(len(body))},
		{"unknown", -1},
		{"zero", 0},
		{"shorter than the body", 100},
		{"longer than the body", int64(len(body)) * 3},
		{"beyond the presize limit", presizeLimit + 1},
	} {
		for _, r := range []struct {
			name string
			r    func() io.Reader
		}{
			{"whole", func() io.Reader { return bytes.NewReader(body) }},
			{"a byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body)) }},
			{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(body)) }},
		} {
			got, err := readAll(r.r(), c.declared)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%s, %s: read %d bytes, %v; want the body's %d", c.name, r.name, len(got), err, len(body))
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readAll(io.MultiReader(bytes.NewReader(body[:10]), iotest.ErrReader(boom)), int64(len(body))); !errors.Is(err, boom) {
		t.Errorf("a failing read: %v, want boom", err)
	}
}

// An answer of the length it declares is read in one allocation. Not
// parallel: it counts allocations.
func TestReadAllSizesForTheDeclaredLength(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 300)
	var rd bytes.Reader
	allocs := testing.AllocsPerRun(20, func() {
		rd.Reset(body)
		if _, err := readAll(&rd, int64(len(body))); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("an answer of its declared length: %v allocations, want 1", allocs)
	}
}
