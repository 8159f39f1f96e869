package server

import (
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// Browser paths.
const (
	PathAuthorize  = "/oauth2/authorize"
	PathUserinfo   = "/oauth2/userinfo"
	PathEndSession = "/oauth2/logout"
	PathLogin      = "/login"
	PathConsent    = "/consent"
	PathLogout     = "/logout"
	PathAccount    = "/account"
	PathStatic     = "/static/"
)

// epAuthorize is the endpoint label of authorization errors; epPages that of the pages.
const (
	epAuthorize = "authorize"
	epPages     = "pages"
	epUserinfo  = "userinfo"
)

// pageCSP is the content security policy of the pages: their own styles and scripts only,
// never framed, forms posted to the server itself and to formTargets: the origins a form's
// POST may be redirected to (Chromium checks form-action on the redirects that follow a form
// submission), or the client's redirect URI that a form_post page submits to.
func pageCSP(formTargets ...string) string {
	var b strings.Builder
	b.WriteString("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	seen := map[string]bool{}
	for _, t := range formTargets {
		src := cspSource(t)
		if src == "" || seen[src] {
			continue
		}
		seen[src] = true
		b.WriteByte(' ')
		b.WriteString(src)
	}
	return b.String()
}

// cspSource returns the CSP source expression of uri's origin: "scheme://host[:port]" for a
// URI with an authority, "scheme:" for one without (a native app's private-use scheme) or
// with an IPv6 literal host (which CSP host sources cannot express; a native app's
// http://[::1]:port loopback redirect), or "" when it cannot be written safely.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Opaque != "" && u.Host != "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return ""
		}
	}
	if u.Host == "" {
		return scheme + ":"
	}
	host := strings.ToLower(u.Host)
	if strings.HasPrefix(host, "[") {
		return scheme + ":"
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':') {
			return ""
		}
	}
	return scheme + "://" + host
}

// render writes a page. formTargets are the outside URIs the page's forms may end up at.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any, formTargets ...string) {
	h := w.Header()
	h["Content-Security-Policy"] = []string{pageCSP(formTargets...)}
	h["Cache-Control"] = hvNoStore
	h["Pragma"] = hvNoCache
	if err := ui.Render(w, status, name, data); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "render page", slog.String("page", name),
			slog.String("request_id", RequestID(r.Context())), slog.Any("err", err))
	}
}

// errorPage shows err on the error page, never redirecting. An *oauth.Error is shown with its
// code, description and status; anything else is logged and shown as a 500 that says
// nothing more.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	ctx := r.Context()
	oe, ok := errors.AsType[*oauth.Error](err)
	if !ok || oe == nil {
		oe = oauth.ErrServer(err)
	}
	if oe.Status >= 500 || oe.Status == 0 {
		s.log.LogAttrs(ctx, slog.LevelError, "request failed", slog.String("request_id", RequestID(ctx)),
			slog.String("endpoint", endpoint), slog.Any("err", oe))
	} else if oe.Cause != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "request refused", slog.String("request_id", RequestID(ctx)),
			slog.String("endpoint", endpoint), slog.Any("err", oe))
	}
	code, status, desc := oe.Code, oe.Status, oe.Description
	if code == "" || status < 400 || status > 599 {
		code, status, desc = oauth.CodeServerError, http.StatusInternalServerError, ""
	}
	if code == oauth.CodeServerError || code == oauth.CodeTemporarilyUnavailable {
		desc = "The server could not complete the request. Try again later."
	}
	if ex := exchangeOf(ctx); ex != nil {
		ex.errCode = code
	}
	s.metrics.oauthErrors.WithLabelValues(endpoint, code).Inc()
	title := "The request could not be completed"
	switch status {
	case http.StatusForbidden:
		title = "Forbidden"
	case http.StatusMethodNotAllowed:
		title = "Method not allowed"
	}
	if desc != "" {
		desc = strings.ToUpper(desc[:1]) + desc[1:]
		if !strings.HasSuffix(desc, ".") {
			desc += "."
		}
	}
	s.render(w, r, status, "error", ui.ErrorPage{Title: title, Message: desc, Code: code})
}

// csrfFailed is the answer to a page POST without a valid CSRF token.
func (s *Server) csrfFailed(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, epPages, &oauth.Error{Code: oauth.CodeAccessDenied, Status: http.StatusForbidden,
		Description: "the form has expired or did not come from this site; reload the page and try again"})
}

// seeOther redirects within the server: 302 after a GET, 303 after a POST (so the browser
// follows with a GET and never re-posts the form, RFC 9700 4.12).
func seeOther(w http.ResponseWriter, r *http.Request, location string) {
	h := w.Header()
	h["Cache-Control"] = hvNoStore
	h["Location"] = []string{location}
	status := http.StatusFound
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status = http.StatusSeeOther
	}
	w.WriteHeader(status)
}

// sendToClient delivers an authorization response to the client's redirect URI: a redirect
// for the query and fragment modes, an auto-submitting form for form_post.
func (s *Server) sendToClient(w http.ResponseWriter, r *http.Request, rd *oauth.Redirect) {
	if rd.Mode == oauth.ModeFormPost {
		page := ui.FormPostPage{Action: rd.URI}
		for _, k := range slices.Sorted(maps.Keys(rd.Params)) {
			for _, v := range rd.Params[k] {
				page.Fields = append(page.Fields, ui.Field{Name: k, Value: v})
			}
		}
		s.render(w, r, http.StatusOK, "form_post", page, rd.URI)
		return
	}
	seeOther(w, r, rd.Location())
}
