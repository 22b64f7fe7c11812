package jsonproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// decodeStd is what Parse must equal: encoding/json's Decoder with
// UseNumber, over the whole input (a second value or anything but
// whitespace after the first is an error, as for json.Unmarshal).
func decodeStd(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

var parseCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-12.25E-3`, `true`, `false`, `null`,
	` {"a" : [1, 2.0, "x", null, true, {"b": {}}], "c": -0.5} `,
	`{"a":1,"a":2}`,
	`"caf\u00e9 \ud83d\ude00 \ud800 \ud800\u0041 \udc00\ud800 \/\b\f\n\r\t\"\\"`,
	"\"\xff\xfe invalid \xc3\"",
	"{\"k\xff\":\"v\"}",
	`"é😀"`,
	// Errors: each must be refused by both.
	``, ` `, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{a:1}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `True`, `"abc`, "\"a\nb\"",
	`"\x"`, `"\u12"`, `"\u12G4"`, `{} {}`, `{} x`, `[1]]`, `1 2`, `"\`,
}

func TestParseMatchesEncodingJSON(t *testing.T) {
	for _, c := range parseCases {
		checkParse(t, []byte(c))
	}
	// Every golden answer the tests decode.
	files, _ := filepath.Glob("../../server/testdata/*/*.json")
	if len(files) == 0 {
		t.Fatal("no golden answers found under server/testdata")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkParse(t, data)
	}
}

func TestParseDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if _, err := Parse([]byte(deep)); err == nil {
		t.Fatalf("%d nested arrays parsed; want an error", maxDepth+1)
	}
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("%d nested arrays: %v", maxDepth, err)
	}
}

func checkParse(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := decodeStd(data)
	got, err := Parse(data)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Errorf("Parse(%q): error %v; encoding/json: %v", data, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Errorf("Parse(%q) = %#v; encoding/json gives %#v", data, got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data)
	})
}
