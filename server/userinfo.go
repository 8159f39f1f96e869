package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/oauth"
)

// hvBearerRealm is the challenge of a request without a token (RFC 6750 3.1: no error code).
var hvBearerRealm = []string{`Bearer realm="gatehouse"`}

// handleUserinfo is the OpenID Connect UserInfo endpoint (Core 5.3), a protected resource
// (RFC 6750): the access token comes in the Authorization header or, for a POST with a form
// body, in the access_token parameter, never in the URL.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	tok, err := s.bearerToken(w, r)
	if err != nil {
		s.bearerError(w, r, err)
		return
	}
	if tok == "" {
		w.Header()["Www-Authenticate"] = hvBearerRealm
		w.Header()["Cache-Control"] = hvNoStore
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ctx := r.Context()
	info, err := s.provider.LookupAccessToken(ctx, tok)
	if err != nil {
		s.bearerError(w, r, err)
		return
	}
	if info == nil {
		s.bearerError(w, r, &oauth.Error{Code: oauth.CodeInvalidToken, Status: http.StatusUnauthorized,
			Description: "the access token is invalid, expired or revoked"})
		return
	}
	claims, err := s.idTokens.UserInfo(ctx, info)
	if err != nil {
		s.bearerError(w, r, err)
		return
	}
	if err := writeJSON(w, http.StatusOK, claims, true); err != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "write response", slog.String("endpoint", epUserinfo),
			slog.String("request_id", RequestID(ctx)), slog.Any("err", err))
	}
}

// bearerToken returns the request's access token, "" when it has none. Using two methods
// at once, or a malformed header, is invalid_request (RFC 6750 2, 3.1).
func (s *Server) bearerToken(w http.ResponseWriter, r *http.Request) (string, error) {
	hs := r.Header.Values("Authorization")
	if len(hs) > 1 {
		return "", oauth.ErrInvalidRequest("the Authorization header is repeated")
	}
	var tok string
	if len(hs) == 1 {
		scheme, rest, _ := strings.Cut(hs[0], " ")
		if strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimLeft(rest, " ")
			if !validB64Token(tok) {
				return "", oauth.ErrInvalidRequest("the Authorization header is not a valid Bearer credential")
			}
		}
	}
	if r.URL.Query().Has("access_token") {
		return "", oauth.ErrInvalidRequest("the access token must not be sent in the URL; use the Authorization header")
	}
	if r.Method == http.MethodPost && checkFormContentType(r.Header.Get("Content-Type")) == nil {
		form, err := s.readBody(w, r)
		if err != nil {
			return "", err
		}
		if vs := form["access_token"]; len(vs) > 0 {
			if len(vs) > 1 {
				return "", oauth.ErrInvalidRequest("the access_token parameter is repeated")
			}
			if tok != "" {
				return "", oauth.ErrInvalidRequest("the access token was sent in more than one way")
			}
			tok = vs[0]
		}
	}
	return tok, nil
}

// validB64Token reports whether s matches b64token (RFC 6750 2.1): 1*( ALPHA / DIGIT /
// "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" || len(s) > 16<<10 {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// bearerError writes an RFC 6750 3 error: the status, a Bearer challenge with the error code
// and description, and the same as a JSON body. Anything but an *oauth.Error is a logged 500.
func (s *Server) bearerError(w http.ResponseWriter, r *http.Request, err error) {
	oe, ok := errors.AsType[*oauth.Error](err)
	if !ok || oe == nil || oe.Status >= 500 || oe.Status < 400 {
		s.writeError(w, r, epUserinfo, err)
		return
	}
	if oe.Cause != nil {
		ctx := r.Context()
		s.log.LogAttrs(ctx, slog.LevelDebug, "request refused", slog.String("request_id", RequestID(ctx)),
			slog.String("endpoint", epUserinfo), slog.Any("err", oe))
	}
	w.Header()["Www-Authenticate"] = []string{`Bearer realm="gatehouse", error="` + quotable(oe.Code) +
		`", error_description="` + quotable(oe.Description) + `"`}
	s.countError(r, epUserinfo, oe.Code)
	_ = writeJSON(w, oe.Status, errorBody{Error: oe.Code, Description: oe.Description}, true)
}

// quotable keeps the characters RFC 6750 3 allows in error and error_description (%x20-21 /
// %x23-5B / %x5D-7E): no quotes, backslashes or control characters.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// Userinfo CORS: any origin may call it with a bearer token (no cookies are involved), and
// may read the challenge of an error.
var (
	hvUserinfoMethods = []string{"GET, POST, OPTIONS"}
	hvUserinfoHeaders = []string{"Authorization, Content-Type"}
	hvUserinfoExpose  = []string{"WWW-Authenticate"}
)

func corsUserinfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Access-Control-Allow-Origin"] = hvAnyOrigin
		if r.Method == http.MethodOptions {
			h["Access-Control-Allow-Methods"] = hvUserinfoMethods
			h["Access-Control-Allow-Headers"] = hvUserinfoHeaders
			h["Access-Control-Max-Age"] = hvCORSAge
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h["Access-Control-Expose-Headers"] = hvUserinfoExpose
		next.ServeHTTP(w, r)
	})
}
