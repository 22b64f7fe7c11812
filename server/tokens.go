package server

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/tokenstore"
)

// tokensService administers stored tokens. It never returns a token: only
// their status. The interceptor lets only admin keys call it.
type tokensService struct {
	hlgatev1.UnimplementedTokensServiceServer
	s *Server
}

func (t *tokensService) ImportToken(ctx context.Context, req *hlgatev1.ImportTokenRequest) (*hlgatev1.ImportTokenResponse, error) {
	var v violations
	var (
		st  tokenstore.Status
		err error
	)
	switch tok := req.GetToken().(type) {
	case *hlgatev1.ImportTokenRequest_PrivateIntegrationToken:
		p := tok.PrivateIntegrationToken
		v.id("private_integration_token.location_id", p.GetLocationId())
		if !strings.HasPrefix(p.GetToken(), "pit-") || len(p.GetToken()) < 8 {
			v.add("private_integration_token.token", "must be a Private Integration Token starting with \"pit-\"")
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		st, err = t.s.cfg.Tokens.ImportPIT(ctx, tokenstore.PIT{
			Subject: p.GetLocationId(), Token: p.GetToken(), UserType: tokenstore.UserTypeLocation,
			LocationID: p.GetLocationId(), Scopes: p.GetScopes(),
		})
	case *hlgatev1.ImportTokenRequest_OauthToken:
		o := tok.OauthToken
		v.id("oauth_token.subject_id", o.GetSubjectId())
		v.optionalID("oauth_token.company_id", o.GetCompanyId())
		v.required("oauth_token.access_token", o.GetAccessToken())
		v.required("oauth_token.refresh_token", o.GetRefreshToken())
		exp := v.timestamp("oauth_token.expire_time", o.GetExpireTime())
		pair := tokenstore.Pair{
			Subject: o.GetSubjectId(), AccessToken: o.GetAccessToken(), RefreshToken: o.GetRefreshToken(),
			Expiry: exp, CompanyID: o.GetCompanyId(), Scopes: o.GetScopes(),
		}
		switch o.GetSubjectKind() {
		case hlgatev1.SubjectKind_SUBJECT_KIND_LOCATION:
			pair.UserType, pair.LocationID = tokenstore.UserTypeLocation, o.GetSubjectId()
		case hlgatev1.SubjectKind_SUBJECT_KIND_COMPANY:
			pair.UserType, pair.CompanyID = tokenstore.UserTypeCompany, o.GetSubjectId()
		default:
			v.add("oauth_token.subject_kind", "is required (SUBJECT_KIND_LOCATION or SUBJECT_KIND_COMPANY)")
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		st, err = t.s.cfg.Tokens.ImportPair(ctx, pair)
	default:
		v.add("token", "one of private_integration_token or oauth_token is required")
		return nil, v.err()
	}
	if err != nil {
		return nil, err
	}
	return &hlgatev1.ImportTokenResponse{Status: tokenStatus(st)}, nil
}

func (t *tokensService) ExchangeCode(ctx context.Context, req *hlgatev1.ExchangeCodeRequest) (*hlgatev1.ExchangeCodeResponse, error) {
	var v violations
	v.required("code", req.GetCode())
	v.maxLen("code", req.GetCode(), 512)
	if req.GetUserType() != hlgatev1.UserType_USER_TYPE_UNSPECIFIED {
		// HighLevel issues the token kind the install chose; hlgate does not
		// ask for another one, and says so instead of ignoring the field.
		v.add("user_type", "is decided by the install; leave it unspecified")
	}
	v.optionalID("subject_id", req.GetSubjectId())
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := t.s.cfg.Tokens.ExchangeCode(ctx, req.GetCode(), req.GetRedirectUri(), tokenstore.ExchangeOptions{Subject: req.GetSubjectId()})
	if err != nil {
		return nil, err
	}
	return &hlgatev1.ExchangeCodeResponse{Status: tokenStatus(st)}, nil
}

func (t *tokensService) ConfirmInstall(ctx context.Context, req *hlgatev1.ConfirmInstallRequest) (*hlgatev1.ConfirmInstallResponse, error) {
	var v violations
	v.id("subject_id", req.GetSubjectId())
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := t.s.cfg.Tokens.ConfirmInstall(ctx, req.GetSubjectId())
	if errors.Is(err, tokenstore.ErrNoPendingInstall) {
		// The pending install is the resource confirmed; like noToken.
		return nil, statusError(codes.NotFound, "no install is pending confirmation for this subject", ReasonNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &hlgatev1.ConfirmInstallResponse{Status: tokenStatus(st)}, nil
}

func (t *tokensService) GetTokenStatus(ctx context.Context, req *hlgatev1.GetTokenStatusRequest) (*hlgatev1.GetTokenStatusResponse, error) {
	var v violations
	v.id("subject_id", req.GetSubjectId())
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := t.s.cfg.Tokens.Status(ctx, req.GetSubjectId())
	if err != nil {
		return nil, noToken(err)
	}
	return &hlgatev1.GetTokenStatusResponse{Status: tokenStatus(st)}, nil
}

func (t *tokensService) DeleteToken(ctx context.Context, req *hlgatev1.DeleteTokenRequest) (*hlgatev1.DeleteTokenResponse, error) {
	var v violations
	v.id("subject_id", req.GetSubjectId())
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := t.s.cfg.Tokens.Delete(ctx, req.GetSubjectId()); err != nil {
		return nil, noToken(err)
	}
	return &hlgatev1.DeleteTokenResponse{}, nil
}

func (t *tokensService) MintLocationToken(ctx context.Context, req *hlgatev1.MintLocationTokenRequest) (*hlgatev1.MintLocationTokenResponse, error) {
	var v violations
	v.id("company_id", req.GetCompanyId())
	v.id("location_id", req.GetLocationId())
	if err := v.err(); err != nil {
		return nil, err
	}
	st, err := t.s.cfg.Tokens.MintLocationToken(ctx, req.GetCompanyId(), req.GetLocationId())
	if err != nil {
		return nil, err
	}
	return &hlgatev1.MintLocationTokenResponse{Status: tokenStatus(st)}, nil
}

// tokenStatus describes a stored token; it has no field that could carry
// the token itself.
func tokenStatus(st tokenstore.Status) *hlgatev1.TokenStatus {
	out := &hlgatev1.TokenStatus{
		SubjectId:   st.Subject,
		CompanyId:   st.CompanyID,
		LocationId:  st.LocationID,
		Scopes:      st.Scopes,
		NeedsReauth: st.NeedsReauth,
	}
	switch st.Kind {
	case tokenstore.KindPIT:
		out.Kind = hlgatev1.TokenKind_TOKEN_KIND_PRIVATE_INTEGRATION
	default:
		out.Kind = hlgatev1.TokenKind_TOKEN_KIND_OAUTH
	}
	switch st.UserType {
	case tokenstore.UserTypeLocation:
		out.UserType = hlgatev1.UserType_USER_TYPE_LOCATION
	case tokenstore.UserTypeCompany:
		out.UserType = hlgatev1.UserType_USER_TYPE_COMPANY
	}
	if st.Subject != "" && st.Subject == st.CompanyID && st.UserType == tokenstore.UserTypeCompany {
		out.SubjectKind = hlgatev1.SubjectKind_SUBJECT_KIND_COMPANY
	} else {
		out.SubjectKind = hlgatev1.SubjectKind_SUBJECT_KIND_LOCATION
	}
	if st.Kind == tokenstore.KindPIT {
		out.UserType = hlgatev1.UserType_USER_TYPE_UNSPECIFIED
	}
	if !st.Expiry.IsZero() {
		out.ExpireTime = timestamppb.New(st.Expiry)
	}
	if !st.UpdatedAt.IsZero() {
		out.UpdateTime = timestamppb.New(st.UpdatedAt)
	}
	if p := st.Pending; p != nil {
		out.PendingInstall = &hlgatev1.PendingInstall{
			Scopes:     p.Scopes,
			CreateTime: timestamppb.New(p.CreatedAt),
			ExpireTime: timestamppb.New(p.ExpiresAt),
		}
	}
	return out
}

// noToken turns "nothing stored" into NOT_FOUND: for token administration
// the token is the resource asked about, not a precondition of the call.
func noToken(err error) error {
	if errors.Is(err, tokenstore.ErrNotInstalled) || errors.Is(err, tokenstore.ErrNotFound) {
		return statusError(codes.NotFound, "no token is stored for this subject", ReasonNotFound)
	}
	return err
}
