package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// handleAccountPage shows the signed-in user's profile, the applications they allowed and
// their personal access tokens.
func (s *Server) handleAccountPage(w http.ResponseWriter, r *http.Request) {
	sess, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	if sess == nil {
		seeOther(w, r, PathLogin)
		return
	}
	page, err := s.accountPage(w, r, sess, nil)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	q := r.URL.Query()
	if id := q.Get("revoked"); id != "" && len(id) <= 256 {
		// Only a client that exists is named, so the link cannot put text on the page.
		if c, err := s.provider.Client(r.Context(), id); err == nil {
			name := c.Name
			if name == "" {
				name = c.ID
			}
			page.Message = "Access for " + name + " was revoked."
		}
	}
	if q.Has("token_revoked") {
		page.Message = "The token was revoked."
	}
	s.render(w, r, http.StatusOK, "account", page)
}

// tokenExpiryDays are the expiry choices of the new-token form (those within the maximum
// lifetime are offered); defaultTokenExpiryDays is preselected.
var tokenExpiryDays = [...]int{7, 30, 90, 365}

const defaultTokenExpiryDays = 30

// accountPage builds the account page of the session's user. posted, when set, is the
// new-token form that failed, shown again with its choices.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, sess *session, posted url.Values) (ui.AccountPage, error) {
	ctx := r.Context()
	u := sess.user
	page := ui.AccountPage{Username: u.Username, Name: u.Name, Email: u.Email, CSRF: s.csrfToken(w, r)}
	consents, err := s.provider.Consents(ctx, u.ID)
	if err != nil {
		return page, err
	}
	for _, c := range consents {
		granted := c.UpdatedAt
		if granted.IsZero() {
			granted = c.CreatedAt
		}
		item := ui.ConsentItem{ClientID: c.ClientID, ClientName: s.clientName(r, c.ClientID), Scopes: c.Scopes}
		if !granted.IsZero() {
			item.Granted = granted.UTC().Format(dateLayout)
		}
		page.Consents = append(page.Consents, item)
	}
	tokens, err := s.provider.ListPersonalTokens(ctx, u.ID)
	if err != nil {
		return page, err
	}
	for _, t := range tokens {
		item := ui.TokenItem{ID: t.ID, Name: t.Name, Scopes: t.Scopes, Created: t.IssuedAt.UTC().Format(dateLayout),
			Expires: t.ExpiresAt.UTC().Format(dateLayout)}
		if !t.LastUsedAt.IsZero() {
			item.LastUsed = t.LastUsedAt.UTC().Format(dateTimeLayout)
		}
		page.Tokens = append(page.Tokens, item)
	}
	scopes, err := s.provider.PersonalTokenScopes(ctx)
	if err != nil {
		return page, err
	}
	for _, sc := range scopes {
		page.TokenScopes = append(page.TokenScopes, ui.TokenScopeOption{Name: sc.Name, Description: sc.Description,
			Checked: slices.Contains(posted["scope"], sc.Name)})
	}
	selected := strconv.Itoa(defaultTokenExpiryDays)
	if posted != nil {
		page.TokenName = posted.Get("name")
		selected = posted.Get("expires_days")
	}
	maxDays := int(s.provider.PersonalTokenMaxLifetime() / (24 * time.Hour))
	for _, d := range tokenExpiryDays {
		if d <= maxDays {
			page.TokenExpiries = append(page.TokenExpiries, ui.ExpiryOption{Days: d, Label: strconv.Itoa(d) + " days",
				Selected: strconv.Itoa(d) == selected})
		}
	}
	if len(page.TokenExpiries) == 0 && maxDays >= 1 {
		page.TokenExpiries = []ui.ExpiryOption{{Days: maxDays, Label: strconv.Itoa(maxDays) + " days", Selected: true}}
	}
	return page, nil
}

const (
	dateLayout     = "2 January 2006"
	dateTimeLayout = "2 January 2006 15:04 MST"
)

// handleAccount takes the account page's actions: op=revoke forgets the consent given to
// client_id and revokes the tokens that client holds for the user; op=create_token makes a
// personal access token (name, scope repeated, expires_days) and shows it this once;
// op=revoke_token revokes the user's personal access token id.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	form, ok := s.postedPageForm(w, r)
	if !ok {
		return
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	if sess == nil {
		seeOther(w, r, PathLogin)
		return
	}
	switch form.Get("op") {
	case "revoke":
		clientID := form.Get("client_id")
		if clientID == "" {
			s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("the client_id parameter is missing"))
			return
		}
		err := s.provider.RevokeConsent(r.Context(), sess.user.ID, clientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.errorPage(w, r, epPages, err)
			return
		}
		seeOther(w, r, PathAccount+"?"+url.Values{"revoked": {clientID}}.Encode())
	case "create_token":
		s.createPersonalToken(w, r, sess, form)
	case "revoke_token":
		id := form.Get("id")
		if id == "" {
			s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("the id parameter is missing"))
			return
		}
		// A token that is gone already (or another user's) is not an error: the page shows
		// what is left.
		err := s.provider.RevokePersonalToken(r.Context(), sess.user.ID, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.errorPage(w, r, epPages, err)
			return
		}
		seeOther(w, r, PathAccount+"?token_revoked=1")
	default:
		s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("unknown account action"))
	}
}

// createPersonalToken makes a personal access token from the account page's form and shows
// the page with the token, the only time its value is shown. The answer to the POST is the
// page itself (no-store), not a redirect, so the value is never in a URL or a stored page.
func (s *Server) createPersonalToken(w http.ResponseWriter, r *http.Request, sess *session, form url.Values) {
	var (
		value string
		tok   storage.Token
		err   error
	)
	days, convErr := strconv.Atoi(form.Get("expires_days"))
	if convErr != nil || days <= 0 {
		err = &oauth.InvalidPersonalTokenError{Field: "lifetime", Reason: "choose when the token expires"}
	} else {
		value, tok, err = s.provider.CreatePersonalToken(r.Context(), sess.user.ID, form.Get("name"), form["scope"],
			time.Duration(days)*24*time.Hour)
	}
	if invalid, ok := errors.AsType[*oauth.InvalidPersonalTokenError](err); ok {
		page, perr := s.accountPage(w, r, sess, form)
		if perr != nil {
			s.errorPage(w, r, epPages, perr)
			return
		}
		page.TokenError = upperFirst(invalid.Reason) + "."
		s.render(w, r, http.StatusBadRequest, "account", page)
		return
	}
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	page, err := s.accountPage(w, r, sess, nil)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	page.NewToken, page.NewTokenName = value, tok.Name
	s.render(w, r, http.StatusOK, "account", page)
}

// upperFirst capitalises the first letter of an ASCII message.
func upperFirst(msg string) string {
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		return string(msg[0]-'a'+'A') + msg[1:]
	}
	return msg
}
