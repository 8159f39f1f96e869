package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// RFC 6750 section 3.1 error codes.
const (
	codeInvalidRequest    = "invalid_request"
	codeInvalidToken      = "invalid_token"
	codeInsufficientScope = "insufficient_scope"
)

type ctxKey struct{}

// ctxValue is what Middleware puts in the request context.
type ctxValue struct {
	claims *Claims
	realm  string
}

// FromContext returns the claims Middleware stored in ctx.
func FromContext(ctx context.Context) (*Claims, bool) {
	cv, ok := ctx.Value(ctxKey{}).(*ctxValue)
	if !ok || cv.claims == nil {
		return nil, false
	}
	return cv.claims, true
}

// Middleware verifies the request's bearer token and calls next with the token's Claims in the
// request context (see FromContext). Otherwise it answers 401 (no token, or an invalid one),
// 400 (a malformed request), or 503 (the token could not be checked), and next is not called.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, fromQuery, desc := v.tokenFromRequest(r)
		switch {
		case desc != "":
			writeChallenge(w, v.realm, http.StatusBadRequest, codeInvalidRequest, desc, "")
			return
		case tok == "":
			writeChallenge(w, v.realm, http.StatusUnauthorized, "", "", "")
			return
		}
		claims, err := v.Verify(r.Context(), tok)
		if err != nil {
			var ve *verifyError
			if !errors.As(err, &ve) {
				ve = unavailable("the token could not be checked", err)
			}
			if ve.unavailable {
				writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", ve.desc)
				return
			}
			writeChallenge(w, v.realm, http.StatusUnauthorized, codeInvalidToken, ve.desc, "")
			return
		}
		if fromQuery {
			// RFC 6750 section 2.3: a response to a request with the token in the URI
			// should not be stored by shared caches.
			w.Header().Set("Cache-Control", "private")
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, &ctxValue{claims: claims, realm: v.realm})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// tokenFromRequest finds the token (RFC 6750 section 2). It returns an empty token when the
// request carries none, and a description when the request is malformed: more than one
// Authorization header, a malformed Bearer credential, a token sent in more than one way or
// more than once, or a query token when those are not allowed. Authorization headers of other
// schemes are ignored. A form body is read only when AllowFormToken is set.
func (v *Verifier) tokenFromRequest(r *http.Request) (tok string, fromQuery bool, desc string) {
	found := 0
	switch auth := r.Header.Values("Authorization"); len(auth) {
	case 0:
	case 1:
		scheme, cred, _ := strings.Cut(auth[0], " ")
		if strings.EqualFold(scheme, "Bearer") {
			cred = strings.TrimLeft(cred, " ")
			if !isB64Token(cred) {
				return "", false, "the Authorization header is not a valid Bearer credential"
			}
			tok = cred
			found++
		}
	default:
		return "", false, "the request has more than one Authorization header"
	}

	if r.URL != nil && r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err == nil || len(q["access_token"]) > 0 {
			switch vals := q["access_token"]; {
			case len(vals) == 0:
			case !v.allowQuery:
				return "", false, "access tokens are not accepted in the query"
			case len(vals) > 1:
				return "", false, "the access_token parameter is repeated"
			default:
				tok, fromQuery = vals[0], true
				found++
			}
		}
	}

	if v.allowForm && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Body != nil {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return "", false, "the form body is malformed"
			}
			switch vals := r.PostForm["access_token"]; {
			case len(vals) == 0:
			case len(vals) > 1:
				return "", false, "the access_token parameter is repeated"
			default:
				tok = vals[0]
				found++
			}
		}
	}

	if found > 1 {
		return "", false, "the token was sent in more than one way"
	}
	if found == 1 && tok == "" {
		return "", false, "the access_token parameter is empty"
	}
	return tok, fromQuery, ""
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// RequireScope returns middleware that lets a request through only if its token (verified by
// Verifier.Middleware, which must run first) was granted every one of scopes; otherwise it
// answers 403 insufficient_scope with the scopes in the challenge's scope attribute. Without
// Middleware before it, every request gets 500. It panics if a scope is not a valid scope
// token (RFC 6749 section 3.3), which is a programming error.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if s == "" || strings.Contains(s, " ") || !quotable(s) {
			panic(fmt.Sprintf("bearer: RequireScope: %q is not a valid scope", s))
		}
	}
	want := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cv, ok := r.Context().Value(ctxKey{}).(*ctxValue)
			if !ok || cv.claims == nil {
				writeJSONError(w, http.StatusInternalServerError, "server_error", "bearer.RequireScope needs Verifier.Middleware before it")
				return
			}
			for _, s := range scopes {
				if !cv.claims.HasScope(s) {
					writeChallenge(w, cv.realm, http.StatusForbidden, codeInsufficientScope,
						"the token lacks a required scope", want)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// writeChallenge answers with a WWW-Authenticate Bearer challenge (RFC 6750 section 3) and the
// same error as JSON. With no code (a request without a token) the challenge has only the realm.
// realm, desc and scope are fixed strings or checked with quotable.
func writeChallenge(w http.ResponseWriter, realm string, status int, code, desc, scope string) {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(realm)
	b.WriteByte('"')
	if code != "" {
		b.WriteString(`, error="` + code + `"`)
		if desc != "" {
			b.WriteString(`, error_description="` + desc + `"`)
		}
		if scope != "" {
			b.WriteString(`, scope="` + scope + `"`)
		}
	}
	w.Header().Set("WWW-Authenticate", b.String())
	if code == "" {
		writeJSONError(w, status, "unauthorized", "a bearer token is required")
		return
	}
	writeJSONError(w, status, code, desc)
}

func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}
