package server

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
)

// An agency operation's subject is the company: hlgate spends the
// company's token and quota, and a caller key must name the company (and
// every location the request names beside it) in its locations list.
func TestAgencyOperationsUseTheCompanysToken(t *testing.T) {
	t.Parallel()
	const companyKey, locationKey = "test-company-key", "test-location-writer"
	keys := append(testKeys(),
		CallerKey{Name: "company", SHA256: HashKey(companyKey), Locations: []string{sandbox.DemoCompanyID, sandbox.DemoLocationID}, Access: "write"},
		CallerKey{Name: "location", SHA256: HashKey(locationKey), Locations: []string{sandbox.DemoLocationID}, Access: "write"})
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: keys})
	code, err := h.sb.MintCode(sandbox.CodeRequest{UserType: sandbox.UserCompany})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.mgr.ExchangeCode(h.ctx(""), code, "", tokenstore.ExchangeOptions{}); err != nil {
		t.Fatalf("install the company: %v", err)
	}
	c := hlgatev1.NewLocationsServiceClient(h.conn)
	ctx, co := h.ctx(companyKey), sandbox.DemoCompanyID

	// The company's locations, walked page by page to the end.
	seen := map[string]bool{}
	token := ""
	for range 5 {
		page, err := c.SearchLocations(ctx, &hlgatev1.SearchLocationsRequest{CompanyId: co, PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatalf("SearchLocations: %v", err)
		}
		for _, l := range page.GetLocations() {
			if seen[l.GetId()] {
				t.Fatalf("location %s twice", l.GetId())
			}
			seen[l.GetId()] = true
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if !seen[sandbox.DemoLocationID] || !seen[sandbox.OtherLocationID] || len(seen) != 2 {
		t.Fatalf("the company's locations: %v", seen)
	}

	made, err := c.CreateLocation(ctx, &hlgatev1.CreateLocationRequest{CompanyId: co, Name: proto.String("Sandbox North Clinic"), Timezone: proto.String("Europe/Oslo")})
	if err != nil || made.GetId() == "" || made.GetName() != "Sandbox North Clinic" {
		t.Fatalf("CreateLocation = %v, %v", made, err)
	}
	if code, _, body := h.rest(http.MethodPost, "/v1/companies/"+co+"/locations", companyKey, strings.NewReader(`{"name":"Sandbox South Clinic"}`)); code != http.StatusOK || !strings.Contains(string(body), `"companyId":"`+co+`"`) {
		t.Fatalf("POST a location = %d %s", code, body)
	}
	// The demo location is renamed: the key names the company and it.
	if _, err := c.PutLocation(ctx, &hlgatev1.PutLocationRequest{CompanyId: co, LocationId: sandbox.DemoLocationID, Name: proto.String("Sandbox Demo Dental II")}); err != nil {
		t.Fatalf("PutLocation: %v", err)
	}
	code2, _, body := h.rest(http.MethodPut, "/v1/companies/"+co+"/locations/"+sandbox.DemoLocationID, companyKey, strings.NewReader(`{"name":"Sandbox Demo Dental III"}`))
	if code2 != http.StatusOK || !strings.Contains(string(body), "Sandbox Demo Dental III") {
		t.Fatalf("PUT the location = %d %s", code2, body)
	}
	// A location the key does not name is refused though the company is
	// allowed; and a key without the company cannot search at all.
	if _, err := c.PutLocation(ctx, &hlgatev1.PutLocationRequest{CompanyId: co, LocationId: sandbox.OtherLocationID, Name: proto.String("x")}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("PutLocation of a location the key does not name: %v, want PERMISSION_DENIED", err)
	}
	before := h.hits.total("")
	if _, err := c.SearchLocations(h.ctx(locationKey), &hlgatev1.SearchLocationsRequest{CompanyId: co}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("SearchLocations with a location's key: %v, want PERMISSION_DENIED", err)
	}
	if _, err := c.SearchLocations(ctx, &hlgatev1.SearchLocationsRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("SearchLocations without company_id: %v, want INVALID_ARGUMENT", err)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused call reached HighLevel")
	}
}
