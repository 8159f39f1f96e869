package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// The device authorization grant (RFC 8628): the device authorization endpoint, and the
// verification page where a signed-in user enters the code their device shows.

// Device flow paths.
const (
	PathDeviceAuthorization = "/oauth2/device_authorization"
	PathDevice              = oauth.DevicePath
)

// epDevice labels the device authorization endpoint's errors.
const epDevice = "device_authorization"

// maxUserCodeField bounds a user code taken from a URL or form for display.
const maxUserCodeField = 32

// device registers the device authorization endpoint and the verification page when the
// device grant is enabled.
func (s *Server) device(x *mux) {
	if !s.provider.Metadata().DeviceAuthorization {
		return
	}
	x.handleFunc("POST "+PathDeviceAuthorization, false, s.handleDeviceAuthorization())
	x.handleFunc(PathDeviceAuthorization, false, func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, epDevice, methodNotAllowed(w))
	})
	x.handleFunc("GET "+PathDevice, false, s.handleDevicePage)
	x.handleFunc("POST "+PathDevice, false, s.handleDevice)
}

// handleDeviceAuthorization is RFC 8628 3.1: through the token endpoint's decoder and error
// writer, a JSON answer that is never cached.
func (s *Server) handleDeviceAuthorization() http.HandlerFunc {
	return formEndpoint(s, epDevice, oauth.ParseDeviceAuthorizationRequest,
		func(r *http.Request, req oauth.DeviceAuthorizationRequest) (*oauth.DeviceAuthorizationResponse, error) {
			return s.provider.DeviceAuthorize(r.Context(), req)
		}, jsonResult[*oauth.DeviceAuthorizationResponse](s, epDevice))
}

// handleDevicePage shows the code entry form, prefilled from ?user_code= (the
// verification_uri_complete). It needs a signed-in user: others go to the login page, which
// brings them back here.
func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	code := clip(r.URL.Query().Get("user_code"), maxUserCodeField)
	sess, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	if sess == nil {
		s.loginForDevice(w, r, code)
		return
	}
	s.showDevice(w, r, http.StatusOK, ui.DevicePage{UserCode: code, Username: sess.user.Username})
}

// loginForDevice sends the browser to the login page, to come back to the device page.
func (s *Server) loginForDevice(w http.ResponseWriter, r *http.Request, code string) {
	seeOther(w, r, PathLogin+"?"+url.Values{"return_to": {deviceReturnTo(code)}}.Encode())
}

// deviceReturnTo is the local URL of the device page with code prefilled.
func deviceReturnTo(code string) string {
	if code == "" {
		return PathDevice
	}
	return PathDevice + "?" + url.Values{"user_code": {code}}.Encode()
}

// safeReturnTo accepts only the device page, with at most its user_code parameter, as a
// page to return to after signing in: never an absolute URL, another host or another path,
// so the login page cannot be made an open redirect. It returns the URL rebuilt from its
// parts, or "" when s is not acceptable.
func safeReturnTo(s string) string {
	if s == "" || len(s) > 256 || !strings.HasPrefix(s, PathDevice) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Path != PathDevice ||
		u.RawPath != "" || u.Fragment != "" {
		return ""
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return ""
	}
	return deviceReturnTo(clip(q.Get("user_code"), maxUserCodeField))
}

func (s *Server) showDevice(w http.ResponseWriter, r *http.Request, status int, page ui.DevicePage) {
	page.CSRF = s.csrfToken(w, r)
	page.Action = PathDevice
	s.render(w, r, status, "device", page)
}

// deviceKeys are the throttle keys of user code guesses: the browser's address and session.
func (s *Server) deviceKeys(r *http.Request, sess *session) []string {
	return []string{"device-ip:" + s.clientIP(r), "device-session:" + sess.ID}
}

// handleDevice takes the device page's forms: a user code (answered with the confirmation
// page), or the decision on it (answered with the final page). Wrong codes are counted per
// address and per session, and past a few the form waits.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	form, ok := s.postedPageForm(w, r)
	if !ok {
		return
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	code := clip(form.Get("user_code"), maxUserCodeField)
	if sess == nil {
		s.loginForDevice(w, r, code)
		return
	}
	ctx := r.Context()
	keys := s.deviceKeys(r, sess)
	page := ui.DevicePage{UserCode: code, Username: sess.user.Username}
	if wait := s.provider.UserCodeWait(ctx, keys...); wait > 0 {
		s.log.LogAttrs(ctx, slog.LevelWarn, "user code attempts throttled", slog.String("request_id", RequestID(ctx)),
			slog.String("ip", s.clientIP(r)), slog.Duration("retry_after", wait))
		secs := max(int64((wait+time.Second-1)/time.Second), 1)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		page.Error = "Too many wrong codes. Try again in " + (time.Duration(secs) * time.Second).String() + "."
		s.countError(r, epPages, "user_code_throttled")
		s.showDevice(w, r, http.StatusTooManyRequests, page)
		return
	}
	// badCode shows the form again with the reason a code cannot be used, and counts it.
	badCode := func(err error) {
		oe, isOAuth := errors.AsType[*oauth.Error](err)
		if !isOAuth || !errors.Is(err, oauth.ErrBadUserCode) {
			s.errorPage(w, r, epPages, err)
			return
		}
		s.provider.UserCodeFailed(ctx, keys...)
		s.countError(r, epPages, "invalid_user_code")
		page.Error = capitalize(oe.Description) + "."
		s.showDevice(w, r, http.StatusOK, page)
	}
	decision := form.Get("decision")
	if decision == "" {
		d, client, err := s.provider.LookupUserCode(ctx, code)
		if err != nil {
			badCode(err)
			return
		}
		scopes, err := s.provider.ScopeDescriptions(ctx, d.Scopes)
		if err != nil {
			s.errorPage(w, r, epPages, err)
			return
		}
		name := client.Name
		if name == "" {
			name = client.ID
		}
		confirm := ui.DeviceConfirmPage{ClientName: name, UserCode: oauth.FormatUserCode(oauth.NormalizeUserCode(code)),
			Username: sess.user.Username, CSRF: s.csrfToken(w, r), Action: PathDevice}
		for _, sc := range scopes {
			confirm.Scopes = append(confirm.Scopes, ui.ScopeItem{Name: sc.Name, Description: sc.Description})
		}
		s.render(w, r, http.StatusOK, "device_confirm", confirm)
		return
	}
	if decision != "approve" && decision != "deny" {
		s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("the decision must be approve or deny"))
		return
	}
	_, client, err := s.provider.LookupUserCode(ctx, code)
	if err == nil {
		err = s.provider.DecideDevice(ctx, code, decision == "approve", sess.user.ID, sess.AuthTime)
	}
	if err != nil {
		badCode(err)
		return
	}
	done := ui.DevicePage{Result: ui.DeviceDenied, ClientName: client.Name}
	if done.ClientName == "" {
		done.ClientName = client.ID
	}
	if decision == "approve" {
		done.Result = ui.DeviceApproved
	}
	s.showDevice(w, r, http.StatusOK, done)
}
