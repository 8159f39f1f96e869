package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Cookie names.
const (
	CookieSession = "gatehouse_session"
	CookieCSRF    = "gatehouse_csrf"
)

// sessionPrefix marks session cookie values (an opaque token: prefix, 32 random bytes,
// checksum), which are stored only as their SHA-256.
const sessionPrefix = "ghsess_"

// maxUserAgent bounds the user agent kept with a session.
const maxUserAgent = 256

// session is a signed-in browser: the stored session and its user, who exists and is not
// disabled.
type session struct {
	storage.Session
	user storage.User
}

// currentSession returns the browser's session, or nil when it has none that is valid now:
// no cookie, an unknown or expired session, or a user who is gone or disabled. The error is
// for storage failures only.
func (s *Server) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(CookieSession)
	if err != nil || !token.CheckOpaque(c.Value, sessionPrefix) {
		return nil, nil
	}
	ctx := r.Context()
	st, err := s.store.GetSessionByHash(ctx, token.Hash(c.Value))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if !s.now().Before(st.ExpiresAt) {
		return nil, nil
	}
	u, err := s.provider.User(ctx, st.UserID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session user: %w", err)
	}
	return &session{Session: st, user: u}, nil
}

// startSession signs u in: a new session (any previous one of this browser is ended, so a
// session id planted before sign-in is worthless) and its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u storage.User) (*session, error) {
	ctx := r.Context()
	s.endSession(w, r)
	value, err := token.NewOpaque(sessionPrefix)
	if err != nil {
		return nil, err
	}
	var idb [16]byte
	_, _ = rand.Read(idb[:]) // crypto/rand.Read does not fail
	now := s.now().UTC().Truncate(time.Second)
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	st := storage.Session{ID: base64.RawURLEncoding.EncodeToString(idb[:]), Hash: token.Hash(value), UserID: u.ID,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(s.opts.SessionLifetime), UserAgent: ua, IP: s.clientIP(r)}
	if err := s.store.CreateSession(ctx, st); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieSession, Value: value, Path: "/", MaxAge: int(s.opts.SessionLifetime / time.Second),
		HttpOnly: true, Secure: s.secureCookies, SameSite: http.SameSiteLaxMode})
	return &session{Session: st, user: u}, nil
}

// endSession deletes the browser's session, if it has one, and clears the cookie. It
// returns the ended session (nil if there was none).
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) *session {
	c, err := r.Cookie(CookieSession)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: CookieSession, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies, SameSite: http.SameSiteLaxMode})
	if !token.CheckOpaque(c.Value, sessionPrefix) {
		return nil
	}
	ctx := r.Context()
	st, err := s.store.GetSessionByHash(ctx, token.Hash(c.Value))
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.log.LogAttrs(ctx, slog.LevelError, "load session to end it", slog.String("request_id", RequestID(ctx)), slog.Any("err", err))
		}
		return nil
	}
	if err := s.store.DeleteSession(ctx, st.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.LogAttrs(ctx, slog.LevelError, "delete session", slog.String("request_id", RequestID(ctx)), slog.Any("err", err))
	}
	return &session{Session: st}
}

// audit appends a security event; a failure is logged and does not fail the request.
func (s *Server) audit(r *http.Request, e storage.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	if err := s.store.AppendAudit(r.Context(), e); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "append audit event", slog.String("type", e.Type),
			slog.String("request_id", RequestID(r.Context())), slog.Any("err", err))
	}
}

// CSRF protection of the page forms: every browser gets a random gatehouse_csrf cookie, and
// each form carries HMAC-SHA256(secret, cookie) in its csrf field. A page on another site can
// make the browser send the cookie, but cannot read it or compute the HMAC.
const (
	csrfField      = "csrf"
	csrfCookieLen  = 32
	csrfDomainSalt = "gatehouse/csrf\x00"
)

// csrfToken returns the token for the page forms, setting the cookie if the browser has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CookieCSRF); err == nil && validCSRFCookie(c.Value) {
		return base64.RawURLEncoding.EncodeToString(s.csrfSum(c.Value))
	}
	b := make([]byte, csrfCookieLen)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: CookieCSRF, Value: v, Path: "/", HttpOnly: true,
		Secure: s.secureCookies, SameSite: http.SameSiteLaxMode})
	return base64.RawURLEncoding.EncodeToString(s.csrfSum(v))
}

func validCSRFCookie(v string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil && len(b) == csrfCookieLen
}

func (s *Server) csrfSum(cookie string) []byte {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(csrfDomainSalt))
	m.Write([]byte(cookie))
	return m.Sum(nil)
}

// checkCSRF verifies the form's token against the cookie, in constant time.
func (s *Server) checkCSRF(r *http.Request, form url.Values) bool {
	c, err := r.Cookie(CookieCSRF)
	if err != nil || !validCSRFCookie(c.Value) {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(form.Get(csrfField))
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.csrfSum(c.Value))
}
