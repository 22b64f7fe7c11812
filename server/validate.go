package server

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// violations collects every problem of a request before any upstream call,
// so a caller learns all of them at once (google.rpc.BadRequest).
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, format string, a ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, a...)})
}

// addOnce adds a violation unless the field already has one: two
// declarations of one rule (the proto's REQUIRED, the document's required)
// report it once.
func (v *violations) addOnce(field, format string, a ...any) {
	for _, x := range *v {
		if x.GetField() == field {
			return
		}
	}
	v.add(field, format, a...)
}

// err is nil when there was nothing to report, else INVALID_ARGUMENT.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	return invalid(v...)
}

// validID accepts HighLevel's ids (24-hex Mongo ids, 20-character
// alphanumeric ids, ids with '_' and '-' such as recurring event instances)
// and nothing that could change the meaning of an upstream path or query:
// ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$, checked byte by byte because every
// call checks its ids (a regexp cost 1-2% of a REST GetContact's CPU).
func validID(s string) bool {
	if len(s) == 0 || len(s) > 100 || s[0] == '_' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte[s[i]] {
			return false
		}
	}
	return true
}

// idByte is the bytes an id may hold.
var idByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	return t
}()

// id checks a required identifier, and says whether it passed.
func (v *violations) id(field, val string) bool {
	switch {
	case val == "":
		v.add(field, "is required")
	case !validID(val):
		v.add(field, "must be an id of letters, digits, '_' or '-' (at most 100)")
	default:
		return true
	}
	return false
}

// optionalID checks an identifier that may be empty.
func (v *violations) optionalID(field, val string) {
	if val != "" {
		v.id(field, val)
	}
}

// required checks that a free-text field is set.
func (v *violations) required(field, val string) {
	if strings.TrimSpace(val) == "" {
		v.add(field, "is required")
	}
}

// maxLen bounds a free-text field.
func (v *violations) maxLen(field, val string, n int) {
	if len([]rune(val)) > n {
		v.add(field, "must be at most %d characters", n)
	}
}

// email checks an optional e-mail address shape.
func (v *violations) email(field, val string) {
	if val == "" {
		return
	}
	a, err := mail.ParseAddress(val)
	if err != nil || a.Address != val || a.Name != "" {
		v.add(field, "must be a plain e-mail address such as ana@example.com")
	}
}

// phonePattern accepts E.164 and the usual national spellings: an optional
// leading '+', then digits with spaces, dots, dashes or parentheses, 7 to 15
// digits in all.
var phonePattern = regexp.MustCompile(`^\+?[0-9 ().-]+$`)

// phone checks an optional phone number shape.
func (v *violations) phone(field, val string) {
	if val == "" {
		return
	}
	digits := 0
	for _, r := range val {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if !phonePattern.MatchString(val) || digits < 7 || digits > 15 {
		v.add(field, "must be a phone number of 7 to 15 digits, preferably E.164 such as +14155550123")
	}
}

// timestamp checks a required, valid timestamp and returns it.
func (v *violations) timestamp(field string, ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		v.add(field, "is required")
		return time.Time{}
	}
	if err := ts.CheckValid(); err != nil {
		v.add(field, "is not a valid timestamp")
		return time.Time{}
	}
	return ts.AsTime()
}

// timeZone checks an optional IANA time zone name.
func (v *violations) timeZone(field, name string) {
	if name == "" {
		return
	}
	if _, err := time.LoadLocation(name); err != nil || name == "Local" {
		v.add(field, "must be an IANA time zone such as Europe/Berlin")
	}
}
