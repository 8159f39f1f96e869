package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// logoutParams are the parameters of OpenID Connect RP-Initiated Logout 1.0 (section 2) that
// the confirmation form carries to its POST.
var logoutParams = []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"}

// maxLogoutParam bounds each of them.
const maxLogoutParam = 8 << 10

// logoutRequest is a logout request checked against the registered clients.
type logoutRequest struct {
	fields []ui.Field
	// target is where to send the browser afterwards: the client's registered
	// post_logout_redirect_uri with the state, or "" to show the signed-out page.
	target     string
	clientID   string
	clientName string
}

// parseLogout reads the RP-Initiated Logout parameters. A post_logout_redirect_uri is
// followed only when an id_token_hint issued by this server names a client (and client_id,
// if sent, is that client) whose PostLogoutRedirectURIs hold exactly that URI; otherwise the
// server never redirects.
func (s *Server) parseLogout(r *http.Request, params url.Values) logoutRequest {
	var lr logoutRequest
	if s.idTokens == nil {
		return lr
	}
	for _, k := range logoutParams {
		if v := params.Get(k); v != "" && len(v) <= maxLogoutParam {
			lr.fields = append(lr.fields, ui.Field{Name: k, Value: v})
		}
	}
	hintRaw := params.Get("id_token_hint")
	if hintRaw == "" {
		return lr
	}
	ctx := r.Context()
	hint, err := s.idTokens.ParseIDTokenHint(ctx, hintRaw)
	if err != nil {
		level := slog.LevelDebug
		if !errors.Is(err, oidc.ErrInvalidIDTokenHint) {
			level = slog.LevelError
		}
		s.log.LogAttrs(ctx, level, "id_token_hint refused", slog.String("request_id", RequestID(ctx)), slog.Any("err", err))
		return lr
	}
	if cid := params.Get("client_id"); cid != "" && cid != hint.ClientID {
		return lr
	}
	client, err := s.provider.Client(ctx, hint.ClientID)
	if err != nil {
		return lr
	}
	lr.clientID = client.ID
	lr.clientName = client.Name
	if lr.clientName == "" {
		lr.clientName = client.ID
	}
	uri := params.Get("post_logout_redirect_uri")
	if uri == "" || !slices.Contains(client.PostLogoutRedirectURIs, uri) {
		return lr
	}
	lr.target = uri
	if state := params.Get("state"); state != "" {
		sep := "?"
		if strings.Contains(uri, "?") {
			sep = "&"
		}
		lr.target = uri + sep + url.Values{"state": {state}}.Encode()
	}
	return lr
}

// handleLogoutPage asks the user to confirm signing out (a GET must not sign anyone out:
// a page on another site could embed it).
func (s *Server) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("the query string is malformed"))
		return
	}
	s.confirmLogout(w, r, s.parseLogout(r, params))
}

func (s *Server) confirmLogout(w http.ResponseWriter, r *http.Request, lr logoutRequest) {
	page := ui.LogoutPage{CSRF: s.csrfToken(w, r), ClientName: lr.clientName, Fields: lr.fields}
	var targets []string
	if lr.target != "" {
		targets = append(targets, lr.target)
	}
	s.render(w, r, http.StatusOK, "logout", page, targets...)
}

// handleLogout signs the browser out: the session is deleted and its cookie cleared. Then
// the browser goes to the client's validated post-logout redirect URI, or sees the
// signed-out page. At the end-session endpoint, a POST without a CSRF field is the RP's
// logout request itself (RP-Initiated Logout allows POST) and gets the confirmation page.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	form, err := s.readPageForm(w, r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	if r.URL.Path == PathEndSession && !form.Has(csrfField) {
		s.confirmLogout(w, r, s.parseLogout(r, form))
		return
	}
	if !s.checkCSRF(r, form) {
		s.csrfFailed(w, r)
		return
	}
	if form.Get("decision") == "stay" {
		seeOther(w, r, PathAccount)
		return
	}
	lr := s.parseLogout(r, form)
	if ended := s.endSession(w, r); ended != nil {
		s.audit(r, storage.AuditEvent{Type: "logout", Actor: ended.UserID, Subject: ended.UserID, ClientID: lr.clientID,
			Details: map[string]string{"session_id": ended.ID}})
	}
	if lr.target != "" {
		seeOther(w, r, lr.target)
		return
	}
	s.render(w, r, http.StatusOK, "logout", ui.LogoutPage{SignedOut: true, ClientName: lr.clientName})
}
