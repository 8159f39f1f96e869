package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Cookie names. They differ from the public site's: browsers share cookies between ports of
// one host, so the admin listener on another port of the same host sees those too.
const (
	cookieSession = "gatehouse_admin_session"
	cookieCSRF    = "gatehouse_admin_csrf"
	cookieFlash   = "gatehouse_admin_flash"
)

// sessionPrefix marks console session cookie values (an opaque token, stored only as its
// SHA-256). The public site's cookies have another prefix, so neither is accepted by the other.
const sessionPrefix = "ghadm_"

// consoleAgent prefixes the user agent stored with a console session, so the user's session
// list tells console sign-ins from sign-ins to the public site.
const consoleAgent = "admin console: "

// maxUserAgent bounds the user agent kept with a session.
const maxUserAgent = 256

// session is a signed-in administrator.
type session struct {
	storage.Session
	user storage.User
}

// exchange is one authenticated console request.
type exchange struct {
	w    http.ResponseWriter
	r    *http.Request
	sess *session
	// form is the POSTed form (CSRF checked); nil for GET.
	form url.Values
	// adm runs operations as the signed-in administrator.
	adm *admin.Admin
	c   *Console
}

// authed wraps a page handler: it requires a signed-in administrator (otherwise to the
// sign-in page, back here afterwards), and for POST a form with a valid CSRF token.
func (c *Console) authed(h func(*exchange)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, reason, err := c.currentSession(w, r)
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		if sess == nil {
			q := url.Values{}
			if r.Method == http.MethodGet {
				q.Set("next", r.URL.RequestURI())
			}
			if reason != "" {
				q.Set("why", reason)
			}
			target := pathLogin
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			seeOther(w, r, target)
			return
		}
		x := &exchange{w: w, r: r, sess: sess, adm: c.admin.WithActor(actor(sess.user)), c: c}
		if r.Method == http.MethodPost {
			form, ok := c.readForm(w, r, sess.ID)
			if !ok {
				return
			}
			x.form = form
		}
		h(x)
	})
}

// Reasons a session is gone (the why parameter of the sign-in page).
const (
	whyExpired   = "expired"
	whyNotAdmin  = "not_admin"
	whySignedOut = "signed_out"
)

// currentSession returns the browser's console session, or nil (with a reason to show when
// there was one) when it has none that is valid now: no cookie, an unknown or expired
// session, or a user who is gone, disabled or no longer an administrator. A session that is
// no longer valid is deleted and its cookie cleared. The error is for storage failures.
func (c *Console) currentSession(w http.ResponseWriter, r *http.Request) (*session, string, error) {
	ck, err := r.Cookie(cookieSession)
	if err != nil {
		return nil, "", nil
	}
	if !token.CheckOpaque(ck.Value, sessionPrefix) {
		c.clearCookie(w, r, cookieSession)
		return nil, "", nil
	}
	ctx := r.Context()
	st, err := c.store.GetSessionByHash(ctx, token.Hash(ck.Value))
	if errors.Is(err, storage.ErrNotFound) {
		c.clearCookie(w, r, cookieSession)
		return nil, whyExpired, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("load console session: %w", err)
	}
	end := func(why string) (*session, string, error) {
		c.clearCookie(w, r, cookieSession)
		if err := c.store.DeleteSession(ctx, st.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			c.log.ErrorContext(ctx, "console: delete session", "err", err)
		}
		return nil, why, nil
	}
	if !c.now().Before(st.ExpiresAt) || !strings.HasPrefix(st.UserAgent, consoleAgent) {
		return end(whyExpired)
	}
	u, err := c.admin.GetUser(ctx, st.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return end(whyExpired)
	}
	if err != nil {
		return nil, "", fmt.Errorf("load console user: %w", err)
	}
	if u.ID != st.UserID || u.Disabled {
		return end(whyExpired)
	}
	if !hasRole(u, RoleAdmin) {
		return end(whyNotAdmin)
	}
	return &session{Session: st, user: u}, "", nil
}

// startSession signs u in: a new session (the browser's previous one, if any, is ended) and
// its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u storage.User) (storage.Session, error) {
	ctx := r.Context()
	c.endSession(w, r)
	value, err := token.NewOpaque(sessionPrefix)
	if err != nil {
		return storage.Session{}, err
	}
	var idb [16]byte
	_, _ = rand.Read(idb[:]) // crypto/rand.Read does not fail
	now := c.now().UTC().Truncate(time.Second)
	ua := consoleAgent + r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	st := storage.Session{ID: base64.RawURLEncoding.EncodeToString(idb[:]), Hash: token.Hash(value), UserID: u.ID,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(c.opts.SessionLifetime), UserAgent: ua, IP: c.opts.ClientIP(r)}
	if err := c.store.CreateSession(ctx, st); err != nil {
		return storage.Session{}, fmt.Errorf("create console session: %w", err)
	}
	c.setCookie(w, r, cookieSession, value, int(c.opts.SessionLifetime/time.Second))
	return st, nil
}

// endSession deletes the browser's console session, if it has one, clears the cookie, and
// returns the ended session.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request) *storage.Session {
	ck, err := r.Cookie(cookieSession)
	if err != nil {
		return nil
	}
	c.clearCookie(w, r, cookieSession)
	if !token.CheckOpaque(ck.Value, sessionPrefix) {
		return nil
	}
	ctx := r.Context()
	st, err := c.store.GetSessionByHash(ctx, token.Hash(ck.Value))
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			c.log.ErrorContext(ctx, "console: load session to end it", "err", err)
		}
		return nil
	}
	if err := c.store.DeleteSession(ctx, st.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		c.log.ErrorContext(ctx, "console: delete session", "err", err)
	}
	return &st
}

// setCookie sets a console cookie: scoped to the console's path, HttpOnly, SameSite=Strict,
// Secure when configured or when the request came over TLS. maxAge 0 makes a browser-session
// cookie.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: pathHome, MaxAge: maxAge,
		HttpOnly: true, Secure: c.opts.SecureCookies || r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	c.setCookie(w, r, name, "", -1)
}

// audit appends an event of the console's own (sign-in, sign-out); a failure is logged and
// does not fail the request.
func (c *Console) audit(r *http.Request, e storage.AuditEvent) {
	e.Time = c.now().UTC()
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Details["via"] = "admin_console"
	if err := c.store.AppendAudit(r.Context(), e); err != nil {
		c.log.ErrorContext(r.Context(), "console: append audit event", "type", e.Type, "err", err)
	}
}

// CSRF protection: every browser gets a random gatehouse_admin_csrf cookie, and every form
// carries HMAC-SHA256(key, cookie, session id) in its csrf field. Another site can make the
// browser send the cookie (though SameSite=Strict stops that too), but can neither read it
// nor compute the HMAC; binding the session means a token from before sign-in (or another
// session) is worthless after it.
const (
	csrfField     = "csrf"
	csrfCookieLen = 32
	csrfSalt      = "gatehouse/admin-console-csrf\x00"
)

// csrfToken returns the forms' token for the browser and session (sessionID "" before
// sign-in), setting the cookie if the browser has none.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request, sessionID string) string {
	if ck, err := r.Cookie(cookieCSRF); err == nil && validCSRFCookie(ck.Value) {
		return base64.RawURLEncoding.EncodeToString(c.csrfSum(ck.Value, sessionID))
	}
	b := make([]byte, csrfCookieLen)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	v := base64.RawURLEncoding.EncodeToString(b)
	c.setCookie(w, r, cookieCSRF, v, 0)
	// The new cookie is what the next request sends; later calls in this request see it too.
	r.AddCookie(&http.Cookie{Name: cookieCSRF, Value: v})
	return base64.RawURLEncoding.EncodeToString(c.csrfSum(v, sessionID))
}

func validCSRFCookie(v string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil && len(b) == csrfCookieLen
}

func (c *Console) csrfSum(cookie, sessionID string) []byte {
	m := hmac.New(sha256.New, c.csrfKey)
	m.Write([]byte(csrfSalt))
	m.Write([]byte(cookie))
	m.Write([]byte{0})
	m.Write([]byte(sessionID))
	return m.Sum(nil)
}

// checkCSRF verifies the form's token against the cookie and session, in constant time.
func (c *Console) checkCSRF(r *http.Request, form url.Values, sessionID string) bool {
	ck, err := r.Cookie(cookieCSRF)
	if err != nil || !validCSRFCookie(ck.Value) {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(form.Get(csrfField))
	if err != nil {
		return false
	}
	return hmac.Equal(got, c.csrfSum(ck.Value, sessionID))
}

// readForm reads a POSTed form (form content type, size limit, body only) and checks its
// CSRF token. On failure it has answered and returns false.
func (c *Console) readForm(w http.ResponseWriter, r *http.Request, sessionID string) (url.Values, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		c.errorPage(w, r, http.StatusUnsupportedMediaType, "Unsupported form", "The form must be sent as application/x-www-form-urlencoded.")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			c.errorPage(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form is larger than the console accepts.")
			return nil, false
		}
		c.errorPage(w, r, http.StatusBadRequest, "Bad form", "The form could not be read.")
		return nil, false
	}
	if !c.checkCSRF(r, r.PostForm, sessionID) {
		c.log.WarnContext(r.Context(), "console: CSRF check failed", "path", r.URL.Path, "ip", c.opts.ClientIP(r))
		c.errorPage(w, r, http.StatusForbidden, "Form expired",
			"The form was not accepted: it expired, or did not come from this console. Go back, reload the page and try again.")
		return nil, false
	}
	return r.PostForm, true
}

// flash is a message for the next page, and possibly a secret shown that once. It travels in
// a cookie sealed (AES-GCM) with a key of the console and the session id as additional data,
// so only this session can read it, and the page that shows it clears it: a reload shows
// nothing.
type flash struct {
	Message string `json:"m,omitempty"`
	// Secret, when set, is shown once with Label ("Client secret of billing") and Note.
	Secret string `json:"s,omitempty"`
	Label  string `json:"l,omitempty"`
	Note   string `json:"n,omitempty"`
	// Expires is a Unix time; a flash left unread is dropped after it.
	Expires int64 `json:"e"`
}

// flashLifetime bounds how long a flash waits for the page it is meant for.
const flashLifetime = 2 * time.Minute

func flashAAD(sessionID string) string { return "gatehouse admin flash\x00" + sessionID }

// setFlash sets the flash for the next page of this session.
func (x *exchange) setFlash(f flash) {
	f.Expires = x.c.now().Add(flashLifetime).Unix()
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	sealed, err := x.c.flash.Seal(flashAAD(x.sess.ID), b)
	if err != nil {
		x.c.log.ErrorContext(x.r.Context(), "console: seal flash", "err", err)
		return
	}
	x.c.setCookie(x.w, x.r, cookieFlash, base64.RawURLEncoding.EncodeToString(sealed), int(flashLifetime/time.Second))
}

// takeFlash returns the flash of this session, if any, and clears it.
func (x *exchange) takeFlash() flash {
	ck, err := x.r.Cookie(cookieFlash)
	if err != nil {
		return flash{}
	}
	x.c.clearCookie(x.w, x.r, cookieFlash)
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(ck.Value)
	if err != nil {
		return flash{}
	}
	b, err := x.c.flash.Open(flashAAD(x.sess.ID), sealed)
	if err != nil {
		return flash{}
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || x.c.now().Unix() > f.Expires {
		return flash{}
	}
	return f
}

// redirect ends a POST with 303 to target, carrying f to the page there.
func (x *exchange) redirect(target string, f flash) {
	if f != (flash{}) {
		x.setFlash(f)
	}
	seeOther(x.w, x.r, target)
}

func seeOther(w http.ResponseWriter, r *http.Request, location string) {
	status := http.StatusFound
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", location)
	w.WriteHeader(status)
}

// remoteHost is the default Options.ClientIP: the peer address without the port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginPage is the data of the sign-in page.
type loginPage struct {
	Page
	Username string
	Next     string
}

// Messages of the sign-in page.
const (
	msgLoginFailed = "Sign-in failed: the username or password is wrong, or the account is disabled."
	msgNotAdmin    = "This account is not an administrator: the console needs a user with the \"admin\" role " +
		"(add it with gatehouse users update <username> --role admin,<its other roles>)."
)

var whyMessages = map[string]string{
	whyExpired:   "Your console session ended. Sign in again.",
	whyNotAdmin:  msgNotAdmin,
	whySignedOut: "You are signed out of the console.",
}

// handleLoginPage shows the sign-in form, or goes to the console when already signed in.
func (c *Console) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sess, _, err := c.currentSession(w, r)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if sess != nil {
		seeOther(w, r, safeNext(q.Get("next")))
		return
	}
	p := loginPage{Next: safeNext(q.Get("next"))}
	if p.Next == pathHome {
		p.Next = ""
	}
	p.Notice = whyMessages[q.Get("why")]
	c.renderLogin(w, r, http.StatusOK, p)
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Title = "Sign in"
	p.CSRF = c.csrfToken(w, r, "")
	c.render(w, r, status, "login", &p)
}

// handleLogin checks the username and password with the Provider (throttled), requires the
// admin role, and starts a console session. Failures are audited as on the public sign-in
// page (login.failed, never the password).
func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	form, ok := c.readForm(w, r, "")
	if !ok {
		return
	}
	ctx := r.Context()
	username, password := form.Get("username"), form.Get("password")
	ip := c.opts.ClientIP(r)
	p := loginPage{Username: username, Next: safeNext(form.Get("next"))}
	if len(p.Username) > 256 {
		p.Username = ""
	}
	u, err := c.provider.AuthenticateUser(ctx, admin.NormalizeUsername(username), password, ip)
	if err != nil {
		th, throttled := errors.AsType[*oauth.ThrottledError](err)
		switch {
		case throttled:
			c.log.WarnContext(ctx, "console: sign-in throttled", "ip", ip, "retry_after", th.RetryAfter)
			secs := int64((th.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
			p.Error = "Too many failed sign-in attempts; try again in " + th.RetryAfter.Round(time.Second).String() + "."
			c.renderLogin(w, r, http.StatusTooManyRequests, p)
		case errors.Is(err, oauth.ErrLoginFailed):
			c.audit(r, storage.AuditEvent{Type: oauth.EventLoginFailed, Actor: "anonymous",
				Details: map[string]string{"username": clip(username, 256), "ip": ip}})
			p.Error = msgLoginFailed
			c.renderLogin(w, r, http.StatusUnauthorized, p)
		default:
			c.serverError(w, r, err)
		}
		return
	}
	// AuthenticateUser refuses disabled users already; the role is the console's own rule.
	if !hasRole(u, RoleAdmin) {
		c.audit(r, storage.AuditEvent{Type: oauth.EventLoginFailed, Actor: actor(u), Subject: u.ID,
			Details: map[string]string{"username": u.Username, "ip": ip, "reason": "not_admin"}})
		p.Error = msgNotAdmin
		c.renderLogin(w, r, http.StatusForbidden, p)
		return
	}
	st, err := c.startSession(w, r, u)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	c.audit(r, storage.AuditEvent{Type: oauth.EventLoginSucceeded, Actor: actor(u), Subject: u.ID,
		Details: map[string]string{"ip": ip, "session_id": st.ID}})
	seeOther(w, r, p.Next)
}

// handleLogout ends the console session (the form's CSRF token is bound to it).
func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, _, err := c.currentSession(w, r)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if sess == nil {
		// Nothing to end (the session expired or was revoked): no form to check either.
		c.clearCookie(w, r, cookieSession)
		seeOther(w, r, pathLogin+"?why="+whySignedOut)
		return
	}
	if _, ok := c.readForm(w, r, sess.ID); !ok {
		return
	}
	if ended := c.endSession(w, r); ended != nil {
		c.audit(r, storage.AuditEvent{Type: "logout", Actor: "user:" + ended.UserID, Subject: ended.UserID,
			Details: map[string]string{"session_id": ended.ID}})
	}
	c.clearCookie(w, r, cookieFlash)
	seeOther(w, r, pathLogin+"?why="+whySignedOut)
}

// safeNext returns next when it is a path of the console (not the sign-in page), else the
// dashboard: the sign-in page never sends anyone elsewhere.
func safeNext(next string) string {
	if len(next) > 2000 || !strings.HasPrefix(next, pathHome) || strings.ContainsAny(next, "\\\r\n\t") ||
		strings.HasPrefix(next, pathLogin) || strings.HasPrefix(next, pathLogout) {
		return pathHome
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.Fragment != "" {
		return pathHome
	}
	// No dot segments or doubled slashes: the path must be the one the browser will ask for.
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if clean != u.Path || u.RawPath != "" {
		return pathHome
	}
	return next
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// serverError logs err and shows the generic error page.
func (c *Console) serverError(w http.ResponseWriter, r *http.Request, err error) {
	c.log.LogAttrs(r.Context(), slog.LevelError, "console: request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	c.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"The console could not complete the request. The error was logged; try again later.")
}
