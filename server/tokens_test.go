package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
)

// TestExchangeCodeExpectedSubject: with subject_id set, a code for another
// location stores nothing; a malformed subject_id is refused by name.
func TestExchangeCodeExpectedSubject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	code, err := h.sb.MintCode(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.tokens.ExchangeCode(h.ctx(""), &hlgatev1.ExchangeCodeRequest{Code: code, SubjectId: sandbox.DemoLocationID})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a code for another location, named as the demo location: %v, want PERMISSION_DENIED", err)
	}
	if _, err := h.tokens.GetTokenStatus(h.ctx(""), &hlgatev1.GetTokenStatusRequest{SubjectId: sandbox.OtherLocationID}); status.Code(err) != codes.NotFound {
		t.Fatalf("the other location after a refused exchange: %v, want NOT_FOUND (nothing stored)", err)
	}
	_, err = h.tokens.ExchangeCode(h.ctx(""), &hlgatev1.ExchangeCodeRequest{Code: "some-code-123", SubjectId: "bad{id}"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "subject_id") {
		t.Fatalf("malformed subject_id: %v, want INVALID_ARGUMENT naming subject_id", err)
	}
	code, _ = h.sb.MintCode(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID})
	resp, err := h.tokens.ExchangeCode(h.ctx(""), &hlgatev1.ExchangeCodeRequest{Code: code, SubjectId: sandbox.OtherLocationID})
	if err != nil || resp.GetStatus().GetSubjectId() != sandbox.OtherLocationID {
		t.Fatalf("matching subject_id: %v, %v", resp, err)
	}
}

// TestConfirmInstall: a marketplace install that would narrow the stored
// scopes shows as pending_install in GetTokenStatus; ConfirmInstall (here
// over REST) applies it; without one pending it is NOT_FOUND.
func TestConfirmInstall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	demo := sandbox.DemoLocationID
	if _, err := h.tokens.ConfirmInstall(h.ctx(""), &hlgatev1.ConfirmInstallRequest{SubjectId: demo}); status.Code(err) != codes.NotFound {
		t.Fatalf("confirm with nothing pending: %v, want NOT_FOUND", err)
	}
	if _, err := h.tokens.ConfirmInstall(h.ctx(""), &hlgatev1.ConfirmInstallRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("confirm without subject_id: %v, want INVALID_ARGUMENT", err)
	}

	pagesSrv := httptest.NewServer(nil)
	t.Cleanup(pagesSrv.Close)
	redirect, err := tokenstore.RedirectURI(pagesSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := tokenstore.NewInstallHandler(h.mgr, tokenstore.InstallConfig{
		ClientID: sandbox.DefaultClientID, RedirectURI: redirect, Scopes: []string{"contacts.readonly"},
		StateKey: tokenstore.StateKey(sandbox.DefaultClientSecret),
	})
	if err != nil {
		t.Fatal(err)
	}
	pagesSrv.Config.Handler = pages
	code, err := h.sb.MintCode(sandbox.CodeRequest{Scope: "contacts.readonly", RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pagesSrv.URL + "/oauth/callback?code=" + code)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("narrowing marketplace install: HTTP %d: %s", resp.StatusCode, page)
	}

	st, err := h.tokens.GetTokenStatus(h.ctx(""), &hlgatev1.GetTokenStatusRequest{SubjectId: demo})
	if err != nil {
		t.Fatal(err)
	}
	p := st.GetStatus().GetPendingInstall()
	if p == nil || len(p.GetScopes()) != 1 || p.GetScopes()[0] != "contacts.readonly" || p.GetExpireTime() == nil || p.GetCreateTime() == nil {
		t.Fatalf("GetTokenStatus does not show the pending install: %v", st.GetStatus())
	}
	if len(st.GetStatus().GetScopes()) <= 1 {
		t.Fatalf("the stored install was narrowed before confirmation: %v", st.GetStatus().GetScopes())
	}

	codeHTTP, _, body := h.rest(http.MethodPost, "/v1/tokens/"+demo+":confirmInstall", "", strings.NewReader(`{}`))
	if codeHTTP != http.StatusOK || !strings.Contains(string(body), "contacts.readonly") {
		t.Fatalf("POST :confirmInstall = %d %s", codeHTTP, body)
	}
	st, err = h.tokens.GetTokenStatus(h.ctx(""), &hlgatev1.GetTokenStatusRequest{SubjectId: demo})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetStatus().GetScopes(); len(got) != 1 || got[0] != "contacts.readonly" || st.GetStatus().GetPendingInstall() != nil {
		t.Fatalf("after confirmation: scopes %v, pending %v", got, st.GetStatus().GetPendingInstall())
	}
}
