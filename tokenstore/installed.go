package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hlgate/hlgate/gen/highlevel"
)

// LocationLister lists the locations of an agency the app is installed on
// (GET /oauth/installedLocations). HighLevelOAuth implements it; an OAuth
// without it makes Manager.InstalledLocations fail.
type LocationLister interface {
	InstalledLocations(ctx context.Context, agencyAccessToken, companyID, appID string) ([]string, error)
}

// maxInstalledLocations bounds one listing: a company with more locations
// than this is refused rather than walked for ever.
const maxInstalledLocations = 10000

// installedPage is the page size of the listing (upstream's default is 20).
const installedPage = 100

// ErrNotAgency: the subject's record is not an agency (Company) token, so it
// cannot list or mint the company's locations.
var ErrNotAgency = errors.New("tokenstore: not an agency (Company) token")

// InstalledLocations returns the ids of the company's locations the app is
// installed on, asked with the company's agency token. Bulk and agency
// installs give only that token (reference §11, row 3): these are the
// locations MintLocationToken can then be called for.
func (m *Manager) InstalledLocations(ctx context.Context, companyID string) ([]string, error) {
	if err := validSubject(companyID); err != nil {
		return nil, fmt.Errorf("company_id: %w", err)
	}
	lister, ok := m.oauth.(LocationLister)
	if !ok {
		return nil, errors.New("installed locations: the OAuth client cannot list installed locations")
	}
	agency, err := m.Token(ctx, companyID)
	if err != nil {
		return nil, fmt.Errorf("installed locations: agency token: %w", err)
	}
	if agency.UserType != UserTypeCompany {
		return nil, fmt.Errorf("installed locations: record %s is a %s token: %w", companyID, agency.UserType, ErrNotAgency)
	}
	return lister.InstalledLocations(ctx, agency.AccessToken, companyID, AppID(m.cfg.ClientID))
}

// InstalledLocations implements LocationLister: it walks the pages of
// GET /oauth/installedLocations?isInstalled=true.
func (o *HighLevelOAuth) InstalledLocations(ctx context.Context, agencyAccessToken, companyID, appID string) ([]string, error) {
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+agencyAccessToken)
		r.Header.Set("Version", oauthVersion)
		return nil
	}
	installed, limit := true, strconv.Itoa(installedPage)
	var ids []string
	for skip := 0; ; skip += installedPage {
		sk := strconv.Itoa(skip)
		resp, err := o.client.GetInstalledLocationWithResponse(ctx, &highlevel.GetInstalledLocationParams{
			CompanyID: companyID, AppID: appID, IsInstalled: &installed, Skip: &sk, Limit: &limit,
		}, auth)
		if err != nil {
			return nil, fmt.Errorf("installed locations of %s: %w", companyID, err)
		}
		if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
			return nil, fmt.Errorf("installed locations of %s: HTTP %d: %.200s", companyID, resp.StatusCode(), resp.Body)
		}
		page := deref(resp.JSON200.Locations)
		for _, l := range page {
			// isInstalled was asked for; an entry saying otherwise is not one.
			if l.IsInstalled != nil && !*l.IsInstalled {
				continue
			}
			if err := validSubject(l.ID); err != nil {
				return nil, fmt.Errorf("installed locations of %s: location id: %w", companyID, err)
			}
			ids = append(ids, l.ID)
		}
		total := int(deref(resp.JSON200.Count))
		if len(page) < installedPage || skip+len(page) >= total {
			return ids, nil
		}
		if skip+installedPage >= maxInstalledLocations {
			return nil, fmt.Errorf("installed locations of %s: more than %d", companyID, maxInstalledLocations)
		}
	}
}
