package server

import (
	"reflect"
	"testing"

	"github.com/hlgate/hlgate/gen/highlevel"
)

// contactOfSearched copies every field HighLevel's contact has: a field
// added to the schema and forgotten in the copy fails here, instead of
// silently reading as empty.
func TestContactOfSearchedCopiesEveryField(t *testing.T) {
	t.Parallel()
	var s highlevel.SearchedContact
	sv := reflect.ValueOf(&s).Elem()
	ct := reflect.TypeOf(highlevel.Contact{})
	for i := range ct.NumField() {
		name := ct.Field(i).Name
		f := sv.FieldByName(name)
		if !f.IsValid() {
			t.Fatalf("SearchedContact has no field %s", name)
		}
		if f.Kind() != reflect.Pointer {
			t.Fatalf("field %s is not optional; the filler below needs a pointer", name)
		}
		f.Set(reflect.New(f.Type().Elem()))
	}
	c := contactOfSearched(&s)
	cv := reflect.ValueOf(c)
	for i := range ct.NumField() {
		if cv.Field(i).IsNil() {
			t.Errorf("contactOfSearched does not copy %s", ct.Field(i).Name)
		}
	}
}
