package tokenstore

import "testing"

func TestParseScopes(t *testing.T) {
	t.Parallel()
	got := ParseScopes(" contacts.readonly,opportunities.readonly  calendars.readonly ")
	if len(got) != 3 || got[0] != "contacts.readonly" || got[2] != "calendars.readonly" {
		t.Fatalf("ParseScopes = %q", got)
	}
}
