package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// msgLoginFailed is the one answer to a wrong username, a wrong password or a disabled
// account.
const msgLoginFailed = "Invalid username or password."

// maxAuditUsername bounds the attempted username kept in the audit trail.
const maxAuditUsername = 256

// handleLoginPage shows the sign-in form: for an authorization request (?req=…), or, on a
// direct visit, to go to the account page or the device page named by ?return_to= (straight
// there when already signed in).
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	var f *flow
	if sealed := r.URL.Query().Get("req"); sealed != "" {
		if f = s.openFlow(w, r, sealed); f == nil {
			return
		}
	} else {
		sess, err := s.currentSession(r)
		if err != nil {
			s.errorPage(w, r, epPages, err)
			return
		}
		if sess != nil {
			seeOther(w, r, afterLogin(r.URL.Query().Get("return_to")))
			return
		}
	}
	page := ui.LoginPage{CSRF: s.csrfToken(w, r)}
	if f != nil {
		page.Username = f.req.LoginHint
	} else {
		page.ReturnTo = safeReturnTo(r.URL.Query().Get("return_to"))
	}
	s.showLogin(w, r, http.StatusOK, f, page)
}

// showLogin renders the login page; for a flow, its form may end in a redirect to the client.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, f *flow, page ui.LoginPage) {
	var targets []string
	if f != nil {
		page.Request = f.sealed
		page.ClientName = s.clientName(r, f.req.ClientID)
		targets = append(targets, f.req.RedirectURI)
	}
	page.Action = PathLogin
	s.render(w, r, status, "login", page, targets...)
}

// handleLogin checks the username and password. On success it starts a session and goes on
// with the authorization request (or to the account page); on failure it shows the form
// again with one message for every kind of failure, or the throttle's.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	form, ok := s.postedPageForm(w, r)
	if !ok {
		return
	}
	var f *flow
	if sealed := form.Get("req"); sealed != "" {
		if f = s.openFlow(w, r, sealed); f == nil {
			return
		}
	}
	ctx := r.Context()
	username, password := form.Get("username"), form.Get("password")
	ip := s.clientIP(r)
	u, err := s.provider.AuthenticateUser(ctx, username, password, ip)
	if err != nil {
		page := ui.LoginPage{CSRF: s.csrfToken(w, r), Username: username}
		if f == nil {
			page.ReturnTo = safeReturnTo(form.Get("return_to"))
		}
		if len(page.Username) > maxAuditUsername {
			page.Username = ""
		}
		th, throttled := errors.AsType[*oauth.ThrottledError](err)
		switch {
		case throttled:
			// Throttled attempts are logged, not audited: they cost nothing, and an audit row
			// each would let a flood fill the database.
			s.log.LogAttrs(ctx, slog.LevelWarn, "sign-in throttled", slog.String("request_id", RequestID(ctx)),
				slog.String("ip", ip), slog.Duration("retry_after", th.RetryAfter))
			secs := int64((th.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			page.Error = capitalize(th.Error()) + "."
			s.countError(r, epPages, "login_throttled")
			s.showLogin(w, r, http.StatusTooManyRequests, f, page)
		case errors.Is(err, oauth.ErrLoginFailed):
			s.audit(r, storage.AuditEvent{Type: "login.failed", Actor: "anonymous",
				Details: map[string]string{"username": clip(username, maxAuditUsername), "ip": ip}})
			page.Error = msgLoginFailed
			s.countError(r, epPages, "login_failed")
			s.showLogin(w, r, http.StatusOK, f, page)
		default:
			s.errorPage(w, r, epPages, err)
		}
		return
	}
	sess, err := s.startSession(w, r, u)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	details := map[string]string{"ip": ip, "session_id": sess.ID}
	clientID := ""
	if f != nil {
		clientID = f.req.ClientID
	}
	s.audit(r, storage.AuditEvent{Type: "login.succeeded", Actor: u.ID, Subject: u.ID, ClientID: clientID, Details: details})
	if f == nil {
		seeOther(w, r, afterLogin(form.Get("return_to")))
		return
	}
	s.continueAuthorize(w, r, f, sess, true)
}

// afterLogin is where a sign-in without an authorization request goes: back to the page
// that sent the user (only the device page is accepted, see safeReturnTo), else the account
// page.
func afterLogin(returnTo string) string {
	if rt := safeReturnTo(returnTo); rt != "" {
		return rt
	}
	return PathAccount
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// clip cuts s to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
