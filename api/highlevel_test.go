package api_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sourceList reads the file table of api/highlevel/SOURCE.md: path here →
// sha256. It is the only record of what the copies must be, so the test reads
// it rather than a second list that could disagree with it.
func sourceList(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("highlevel/SOURCE.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		cells := strings.Split(strings.Trim(strings.TrimSpace(sc.Text()), "|"), "|")
		if len(cells) != 5 {
			continue
		}
		file, sum := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[4])
		if !strings.HasSuffix(file, ".json") {
			continue // the header row and its separator
		}
		if _, dup := want[file]; dup {
			t.Fatalf("SOURCE.md lists %s twice", file)
		}
		want[file] = sum
	}
	if len(want) == 0 {
		t.Fatal("SOURCE.md lists no files")
	}
	return want
}

// TestHighLevelDocumentsAreVerbatim proves that api/highlevel holds exactly
// the files SOURCE.md lists, each byte for byte as published: hlgate's
// changes belong in api/overlay.yaml, never in the copies.
func TestHighLevelDocumentsAreVerbatim(t *testing.T) {
	want := sourceList(t)
	var have []string
	err := filepath.WalkDir("highlevel", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == filepath.Join("highlevel", "SOURCE.md") {
			return err
		}
		rel, _ := filepath.Rel("highlevel", path)
		rel = filepath.ToSlash(rel)
		have = append(have, rel)
		sum, ok := want[rel]
		if !ok {
			t.Errorf("%s is not listed in SOURCE.md", rel)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SOURCE.md says %s: the copy was changed", rel, got, sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for file := range want {
		if !slices.Contains(have, file) {
			t.Errorf("SOURCE.md lists %s, which is missing", file)
		}
	}
}
