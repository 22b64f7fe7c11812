package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

func contactsGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "contacts", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// HighLevel's contact, as its document's example shows it, decodes into the
// hlgate.v1 Contact field by field, losing nothing.
func TestContactFromGoldenUpstreamJSON(t *testing.T) {
	t.Parallel()
	var got hlgatev1.GetContactResponse
	rep, err := jsonproto.Decode(contactsGolden(t, "get_contact.json"), &got)
	if err != nil {
		t.Fatal(err)
	}
	if lost := rep.Lost(); len(lost) > 0 {
		t.Fatalf("keys kept nowhere: %v", lost)
	}
	ts := func(s string) *timestamppb.Timestamp {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return timestamppb.New(tm)
	}
	attribution := &hlgatev1.AttributionSource{
		Url: "Trigger Link", Referrer: "https: //www.google.com",
		Gclid:     "CjOKCQjwnNyUBhCZARISAI9AYIFtNnIcWcYGIOQINz_ZoFI5SSLRRugSoPZoiEu27IZBY\u00a31-MAIWmEaAo2VEALW_WCB",
		UserAgent: "Mozilla/5.0", Ip: "58.111.106.198", Medium: "survey", MediumId: "FglfHAn30PRwsZVyQlKp",
		Fbp: "fb. 1.1674748390986.1171287961", FbEventId: "Mozilla/5.0",
	}
	want := &hlgatev1.Contact{
		Id: "seD4PfOuKoVMLkEZqohJ", LocationId: "ve9EPM428h8vShlRW1KT",
		FirstName: "rubika", LastName: "Deo", Name: "rubika deo", Email: "rubika@deos.com", Phone: "+18832327657",
		CompanyName: "DGS VolMAX", Address1: "3535 1st St N", City: "ruDolomitebika", State: "AL", PostalCode: "35061",
		Country: "US", Website: "https://www.tesla.com", Timezone: "Asia/Calcutta", Dnd: true,
		DndSettings: &hlgatev1.DndSettings{
			Email: &hlgatev1.DndChannelSetting{Status: hlgatev1.DndStatus_DND_STATUS_ACTIVE, Message: "asked by phone", Code: "103"},
			Sms:   &hlgatev1.DndChannelSetting{Status: hlgatev1.DndStatus_DND_STATUS_INACTIVE},
		},
		Tags:         []string{"nisi sint commodo amet", "consequat"},
		CustomFields: []*hlgatev1.CustomField{{Id: "MgobCB14YMVKuE4Ka8p1", Value: structpb.NewStringValue("name")}},
		Source:       "public api", DateOfBirth: "Date format YYYY-MM-DD", AssignedTo: "ve9EPM428h8vShlRW1KT",
		Type: "read", BusinessId: "641c094001436dbc2081e642",
		DateAdded: ts("2021-07-02T05:18:26.704Z"), DateUpdated: ts("2021-07-02T05:18:26.704Z"),
		LastActivity:      ts("2021-07-16T11:39:30.564Z"),
		AttributionSource: attribution, LastAttributionSource: attribution,
		EmailLowerCase: "rubika@deos.com", FirstNameLowerCase: "rubika", LastNameLowerCase: "deo",
		FullNameLowerCase: "rubika deo", Keyword: "test", VisitorId: "ve9EPM428h8vShlRW1KT",
	}
	// Every key of the example has a field: nothing is left to keep.
	if diff := cmp.Diff(want, got.GetContact(), protocmp.Transform()); diff != "" {
		t.Fatalf("decoded contact (-want +got):\n%s", diff)
	}
	if len(rep) != 0 {
		t.Errorf("reported %v, want nothing", rep)
	}
}

// A CreateContact request becomes, through the generic path, exactly the
// body HighLevel's document shows for POST /contacts/.
func TestCreateContactBodyMatchesGoldenUpstreamJSON(t *testing.T) {
	t.Parallel()
	c := &hlgatev1.Contact{
		FirstName: "Rosan", LastName: "Deo", Name: "Rosan Deo", Email: "rosan@deos.com", Gender: "male",
		Phone: "+1 888-888-8888", Address1: "3535 1st St N", City: "Dolomite", State: "AL", PostalCode: "35061",
		Website: "https://www.tesla.com", Timezone: "America/Chihuahua", Dnd: true,
		DndSettings:        &hlgatev1.DndSettings{Call: &hlgatev1.DndChannelSetting{Status: hlgatev1.DndStatus_DND_STATUS_PERMANENT}},
		InboundDndSettings: &hlgatev1.InboundDndSettings{All: &hlgatev1.DndChannelSetting{Status: hlgatev1.DndStatus_DND_STATUS_ACTIVE}},
		Tags:               []string{"nisi sint commodo amet", "consequat"},
		CustomFields:       []*hlgatev1.CustomField{{Id: "6dvNaf7VhkQ9snc5vnjJ", Value: structpb.NewStringValue("9039160788")}},
		Source:             "public api", DateOfBirth: "1990-09-25", Country: "US", CompanyName: "DGS VolMAX",
		AssignedTo: "y0BeYjuRIlDwsDcOHOJo",
		Id:         "ignored-output-only", DateAdded: timestamppb.Now(), // output only: never sent
	}
	body, err := wireBody(t, hlgatev1.ContactsService_CreateContact_FullMethodName,
		&hlgatev1.CreateContactRequest{LocationId: "ve9EPM428h8vShlRW1KT", Contact: c})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, body, string(contactsGolden(t, "create_contact_request.json")))
}
