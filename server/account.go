package server

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// handleAccountPage shows the signed-in user's profile and the applications they allowed.
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
	ctx := r.Context()
	consents, err := s.provider.Consents(ctx, sess.user.ID)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return
	}
	u := sess.user
	page := ui.AccountPage{Username: u.Username, Name: u.Name, Email: u.Email, CSRF: s.csrfToken(w, r)}
	for _, c := range consents {
		granted := c.UpdatedAt
		if granted.IsZero() {
			granted = c.CreatedAt
		}
		item := ui.ConsentItem{ClientID: c.ClientID, ClientName: s.clientName(r, c.ClientID), Scopes: c.Scopes}
		if !granted.IsZero() {
			item.Granted = granted.UTC().Format("2 January 2006")
		}
		page.Consents = append(page.Consents, item)
	}
	if id := r.URL.Query().Get("revoked"); id != "" && len(id) <= 256 {
		// Only a client that exists is named, so the link cannot put text on the page.
		if c, err := s.provider.Client(ctx, id); err == nil {
			name := c.Name
			if name == "" {
				name = c.ID
			}
			page.Message = "Access for " + name + " was revoked."
		}
	}
	s.render(w, r, http.StatusOK, "account", page)
}

// handleAccount takes the account page's actions: op=revoke forgets the consent given to
// client_id and revokes the tokens that client holds for the user.
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
	default:
		s.errorPage(w, r, epPages, oauth.ErrInvalidRequest("unknown account action"))
	}
}
