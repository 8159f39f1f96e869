package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// flow is an authorization request on its way through the pages. It travels sealed in the
// req parameter (Provider.SealAuthorize): nothing is stored before the user signs in.
type flow struct {
	req    *oauth.AuthorizeRequest
	sealed string
}

func (s *Server) seal(f *flow) (string, error) {
	if f.sealed == "" {
		v, err := s.provider.SealAuthorize(f.req)
		if err != nil {
			return "", fmt.Errorf("seal authorization request: %w", err)
		}
		f.sealed = v
	}
	return f.sealed, nil
}

// openFlow opens a sealed request from a page's req parameter. On failure it shows the error
// page, or sends the error to the client when the client may no longer make the request,
// and returns nil.
func (s *Server) openFlow(w http.ResponseWriter, r *http.Request, sealed string) *flow {
	req, err := s.provider.OpenAuthorize(r.Context(), sealed)
	if re, ok := errors.AsType[*oauth.RedirectError](err); ok {
		s.countError(r, epAuthorize, re.Err.Code)
		s.sendToClient(w, r, re.Redirect)
		return nil
	}
	if err != nil {
		s.errorPage(w, r, epAuthorize, err)
		return nil
	}
	return &flow{req: req, sealed: sealed}
}

// handleAuthorize is the authorization endpoint (RFC 6749 3.1, OpenID Connect Core 3.1.2),
// for GET (query) and POST (form body).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	var err error
	if r.Method == http.MethodPost {
		params, err = s.readPageForm(w, r)
	} else if params, err = url.ParseQuery(r.URL.RawQuery); err != nil {
		err = oauth.ErrInvalidRequest("the query string is malformed")
	}
	if err != nil {
		s.errorPage(w, r, epAuthorize, err)
		return
	}
	req, err := s.provider.ValidateAuthorize(r.Context(), params)
	if err != nil {
		// A bad client or redirect URI is shown, never redirected to (RFC 6749 4.1.2.1);
		// everything else goes back to the client.
		if re, ok := errors.AsType[*oauth.RedirectError](err); ok {
			s.countError(r, epAuthorize, re.Err.Code)
			s.sendToClient(w, r, re.Redirect)
			return
		}
		s.errorPage(w, r, epAuthorize, err)
		return
	}
	s.continueAuthorize(w, r, &flow{req: req}, nil, false)
}

// continueAuthorize takes a validated request as far as it can go: to the login page, the
// consent page, or the client. sess is the browser's session when the caller has it; fresh
// says the user has just signed in, which satisfies prompt=login and max_age.
func (s *Server) continueAuthorize(w http.ResponseWriter, r *http.Request, f *flow, sess *session, fresh bool) {
	req := f.req
	if sess == nil {
		var err error
		if sess, err = s.currentSession(r); err != nil {
			s.errorPage(w, r, epAuthorize, err)
			return
		}
	}
	if sess == nil || !fresh && s.needsLogin(req, sess) {
		if req.HasPrompt("none") {
			s.refuse(w, r, req, oauth.CodeLoginRequired, "the user must sign in")
			return
		}
		s.toPage(w, r, PathLogin, f)
		return
	}
	missing, err := s.provider.MissingConsent(r.Context(), req, sess.user.ID)
	if err != nil {
		s.approveFailed(w, r, req, err)
		return
	}
	if len(missing) > 0 {
		if req.HasPrompt("none") {
			s.refuse(w, r, req, oauth.CodeConsentRequired, "the user must allow the request")
			return
		}
		s.toPage(w, r, PathConsent, f)
		return
	}
	s.approve(w, r, req, sess)
}

// needsLogin reports whether the request asks for a new sign-in: prompt=login, or a max_age
// the session is older than (OpenID Connect Core 3.1.2.1).
func (s *Server) needsLogin(req *oauth.AuthorizeRequest, sess *session) bool {
	if req.HasPrompt("login") {
		return true
	}
	return req.MaxAge >= 0 && s.now().Sub(sess.AuthTime) > time.Duration(req.MaxAge)*time.Second
}

// refuse sends an authorization error to the client.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, code, desc string) {
	s.countError(r, epAuthorize, code)
	s.sendToClient(w, r, s.provider.ErrorRedirect(req, &oauth.Error{Code: code, Status: http.StatusBadRequest, Description: desc}))
}

// toPage sends the browser to the login or consent page with the sealed request.
func (s *Server) toPage(w http.ResponseWriter, r *http.Request, path string, f *flow) {
	sealed, err := s.seal(f)
	if err != nil {
		s.errorPage(w, r, epAuthorize, err)
		return
	}
	seeOther(w, r, path+"?"+url.Values{"req": {sealed}}.Encode())
}

// approve issues the response of a request the user is signed in for and has allowed.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, sess *session) {
	rd, err := s.provider.Approve(r.Context(), req, oauth.Authentication{UserID: sess.user.ID,
		AuthTime: sess.AuthTime, SessionID: sess.ID})
	if err != nil {
		s.approveFailed(w, r, req, err)
		return
	}
	s.sendToClient(w, r, rd)
}

// approveFailed reports a failure after the request was validated: the client and its
// redirect URI are known good, so the error goes back to the client (a server_error says
// nothing of its cause, which is logged).
func (s *Server) approveFailed(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, err error) {
	ctx := r.Context()
	oe, ok := errors.AsType[*oauth.Error](err)
	if !ok || oe == nil {
		oe = oauth.ErrServer(err)
	}
	level := slog.LevelInfo
	if oe.Status >= 500 || oe.Status == 0 {
		level = slog.LevelError
		if oe.Code != oauth.CodeTemporarilyUnavailable {
			oe = &oauth.Error{Code: oauth.CodeServerError, Status: http.StatusInternalServerError,
				Description: "the server could not complete the request", Cause: err}
		}
	}
	s.log.LogAttrs(ctx, level, "authorization failed", slog.String("request_id", RequestID(ctx)),
		slog.String("client_id", req.ClientID), slog.Any("err", oe))
	s.countError(r, epAuthorize, oe.Code)
	s.sendToClient(w, r, s.provider.ErrorRedirect(req, &oauth.Error{Code: oe.Code, Status: oe.Status, Description: oe.Description}))
}

// countError records an OAuth error for the access log and the metrics.
func (s *Server) countError(r *http.Request, endpoint, code string) {
	if ex := exchangeOf(r.Context()); ex != nil {
		ex.errCode = code
	}
	s.metrics.oauthErrors.WithLabelValues(endpoint, code).Inc()
}

// clientName is the name a page shows for a client: its registered name, or its id.
func (s *Server) clientName(r *http.Request, id string) string {
	c, err := s.provider.Client(r.Context(), id)
	if err != nil || c.Name == "" {
		return id
	}
	return c.Name
}

// handleConsentPage shows what the client asks for, to the signed-in user.
func (s *Server) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	if f, sess := s.signedInFlow(w, r, r.URL.Query().Get("req")); f != nil {
		s.showConsent(w, r, f, sess)
	}
}

// signedInFlow opens a sealed request for a page that needs a signed-in user; without a
// session it sends the browser to the login page. It returns nil when it has answered.
func (s *Server) signedInFlow(w http.ResponseWriter, r *http.Request, sealed string) (*flow, *session) {
	f := s.openFlow(w, r, sealed)
	if f == nil {
		return nil, nil
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return nil, nil
	}
	if sess == nil {
		s.toPage(w, r, PathLogin, f)
		return nil, nil
	}
	return f, sess
}

func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, f *flow, sess *session) {
	scopes, err := s.provider.ScopeDescriptions(r.Context(), f.req.Scopes)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	page := ui.ConsentPage{ClientName: s.clientName(r, f.req.ClientID), Username: sess.user.Username,
		CSRF: s.csrfToken(w, r), Request: f.sealed, Action: PathConsent}
	for _, sc := range scopes {
		page.Scopes = append(page.Scopes, ui.ScopeItem{Name: sc.Name, Description: sc.Description})
	}
	// Both answers redirect to the client, so the form may be redirected there.
	s.render(w, r, http.StatusOK, "consent", page, f.req.RedirectURI)
}

// handleConsent takes the user's answer: allow records the consent and approves the request,
// deny sends access_denied back to the client.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	form, ok := s.postedPageForm(w, r)
	if !ok {
		return
	}
	f, sess := s.signedInFlow(w, r, form.Get("req"))
	if f == nil {
		return
	}
	req := f.req
	switch form.Get("decision") {
	case "allow":
		if err := s.provider.RecordConsent(r.Context(), sess.user.ID, req.ClientID, req.Scopes); err != nil {
			s.approveFailed(w, r, req, err)
			return
		}
		s.approve(w, r, req, sess)
	case "deny":
		s.audit(r, storage.AuditEvent{Type: "consent.denied", Actor: sess.user.ID, ClientID: req.ClientID,
			Subject: sess.user.ID})
		s.countError(r, epAuthorize, oauth.CodeAccessDenied)
		s.sendToClient(w, r, s.provider.Deny(req))
	default:
		s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("the decision must be allow or deny"))
	}
}
