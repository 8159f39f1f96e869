package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// clientsPage is the client list.
type clientsPage struct {
	Page
	Query   string
	Clients []storage.Client
	// After is the page's start (empty on the first page); Next the start of the next page.
	After, Next string
}

func (x *exchange) listQuery() (search, after string, ok bool) {
	q := x.r.URL.Query()
	search, after = strings.TrimSpace(q.Get("q")), q.Get("after")
	if len(search) > 200 || len(after) > 1000 {
		x.badRequest("The search or page parameter is too long.")
		return "", "", false
	}
	return search, after, true
}

func (c *Console) clientList(x *exchange) {
	search, after, ok := x.listQuery()
	if !ok {
		return
	}
	list, next, err := x.adm.QueryClients(x.r.Context(), storage.ClientQuery{Search: search, After: after, Limit: c.opts.PageSize})
	if err != nil {
		x.fail(err)
		return
	}
	x.render(http.StatusOK, "clients", &clientsPage{Page: Page{Title: "Clients", Nav: "clients"},
		Query: search, Clients: list, After: after, Next: next})
}

// clientForm is the client form as typed.
type clientForm struct {
	ID, Name        string
	Public, Trusted bool
	GrantTypes      []string
	Scopes          []string
	// RedirectURIs and PostLogoutRedirectURIs are the textareas' lines.
	RedirectURIs, PostLogoutRedirectURIs []string
	TokenFormat                          string
	// Version is the version the form was loaded at (edit only).
	Version int64
}

// scopeOption is a scope checkbox of the client form.
type scopeOption struct {
	Name, Description string
	BuiltIn           bool
}

// clientPage is the new-client form (New) or a client's page with its edit form.
type clientPage struct {
	Page
	New bool
	// Client is the stored client (edit only).
	Client storage.Client
	Form   clientForm
	Errors fieldErrors
	// GrantTypes and ScopeOptions are the choices of the form.
	GrantTypes   []string
	ScopeOptions []scopeOption
	TokenFormats []string
}

// clientFields are the fields of the client form, for validation messages.
var clientFields = map[string]bool{
	"id": true, "name": true, "public": true, "trusted": true, "grant_types": true, "scopes": true,
	"redirect_uris": true, "post_logout_redirect_uris": true, "token_format": true,
}

// builtinScopes are the OpenID Connect scopes every client may be allowed without a
// catalogue entry.
var builtinScopes = []scopeOption{
	{Name: oauth.ScopeOpenID, Description: "Sign the user in (OpenID Connect)", BuiltIn: true},
	{Name: oauth.ScopeProfile, Description: "Name and username", BuiltIn: true},
	{Name: oauth.ScopeEmail, Description: "Email address", BuiltIn: true},
	{Name: oauth.ScopeOfflineAccess, Description: "Refresh tokens", BuiltIn: true},
}

// fillChoices sets the form's grant type and scope choices.
func (x *exchange) fillChoices(ctx context.Context, p *clientPage) error {
	p.GrantTypes = admin.GrantTypes()
	p.TokenFormats = []string{storage.TokenFormatJWT, storage.TokenFormatOpaque}
	scopes, err := x.adm.ListScopes(ctx)
	if err != nil {
		return err
	}
	p.ScopeOptions = append(p.ScopeOptions, builtinScopes...)
	for _, s := range scopes {
		p.ScopeOptions = append(p.ScopeOptions, scopeOption{Name: s.Name, Description: s.Description})
	}
	// A scope the client has but that is no longer offered stays visible (and ticked).
	for _, s := range p.Form.Scopes {
		found := false
		for _, o := range p.ScopeOptions {
			found = found || o.Name == s
		}
		if !found {
			p.ScopeOptions = append(p.ScopeOptions, scopeOption{Name: s, Description: "(not in the catalogue)"})
		}
	}
	return nil
}

func (c *Console) clientNewPage(x *exchange) {
	p := &clientPage{Page: Page{Title: "New client", Nav: "clients"}, New: true,
		Form: clientForm{GrantTypes: []string{oauth.GrantClientCredentials}, TokenFormat: storage.TokenFormatJWT}}
	x.renderClientForm(http.StatusOK, "client_new", p)
}

// readClientForm reads the posted client form.
func (x *exchange) readClientForm() clientForm {
	f := x.form
	return clientForm{
		ID:                     strings.TrimSpace(f.Get("id")),
		Name:                   f.Get("name"),
		Public:                 f.Get("type") == "public",
		Trusted:                checked(f, "trusted"),
		GrantTypes:             dedupe(f["grant_types"]),
		Scopes:                 dedupe(f["scopes"]),
		RedirectURIs:           listLines(f.Get("redirect_uris")),
		PostLogoutRedirectURIs: listLines(f.Get("post_logout_redirect_uris")),
		TokenFormat:            strings.TrimSpace(f.Get("token_format")),
	}
}

// invalidClient shows the form again with the validation messages next to their fields, or
// returns false when err is not a validation error.
func (x *exchange) invalidClient(err error, name string, p *clientPage) bool {
	lists := map[string][]string{"grant_types": p.Form.GrantTypes, "scopes": p.Form.Scopes,
		"redirect_uris": p.Form.RedirectURIs, "post_logout_redirect_uris": p.Form.PostLogoutRedirectURIs}
	fe, general, ok := validationErrors(err, clientFields, lists)
	if !ok {
		return false
	}
	p.Errors = fe
	p.Error = "The client was not saved: correct the fields marked below."
	if len(general) > 0 {
		p.Error = "The client was not saved: " + strings.Join(general, "; ")
	}
	x.renderClientForm(http.StatusUnprocessableEntity, name, p)
	return true
}

// renderClientForm renders a client form page with its grant and scope choices.
func (x *exchange) renderClientForm(status int, name string, p *clientPage) {
	if err := x.fillChoices(x.r.Context(), p); err != nil {
		x.fail(err)
		return
	}
	x.render(status, name, p)
}

func (c *Console) clientCreate(x *exchange) {
	form := x.readClientForm()
	ctx := x.r.Context()
	cl, secret, err := x.adm.CreateClient(ctx, admin.ClientInput{
		ID: form.ID, Name: form.Name, Public: form.Public, Trusted: form.Trusted,
		GrantTypes: form.GrantTypes, Scopes: form.Scopes, RedirectURIs: form.RedirectURIs,
		PostLogoutRedirectURIs: form.PostLogoutRedirectURIs, TokenFormat: form.TokenFormat,
	})
	if err != nil {
		p := &clientPage{Page: Page{Title: "New client", Nav: "clients"}, New: true, Form: form}
		if x.invalidClient(err, "client_new", p) {
			return
		}
		if errors.Is(err, storage.ErrConflict) {
			p.Errors = fieldErrors{"id": {"A client with this ID exists already; choose another (or leave it empty to generate one)."}}
			p.Error = "The client was not saved: correct the fields marked below."
			x.renderClientForm(http.StatusConflict, "client_new", p)
			return
		}
		x.fail(err)
		return
	}
	f := flash{Message: fmt.Sprintf("Client %s was created.", cl.ID)}
	if secret != "" {
		f.Secret, f.Label = secret, "Client secret of "+cl.ID
		f.Note = "Only a hash is stored; if it is lost, rotate the secret."
	}
	x.redirect(clientURL(cl.ID), f)
}

func clientURL(id string) string { return pathClient + "?id=" + url.QueryEscape(id) }

func formOf(cl storage.Client) clientForm {
	return clientForm{ID: cl.ID, Name: cl.Name, Public: cl.Public, Trusted: cl.Trusted, GrantTypes: cl.GrantTypes,
		Scopes: cl.Scopes, RedirectURIs: cl.RedirectURIs, PostLogoutRedirectURIs: cl.PostLogoutRedirectURIs,
		TokenFormat: cl.TokenFormat, Version: cl.Version}
}

func (c *Console) clientPage(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	ctx := x.r.Context()
	cl, err := x.adm.GetClient(ctx, id)
	if err != nil {
		x.fail(err)
		return
	}
	p := &clientPage{Page: Page{Title: "Client " + cl.ID, Nav: "clients"}, Client: cl, Form: formOf(cl)}
	x.renderClientForm(http.StatusOK, "client", p)
}

func (c *Console) clientUpdate(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	version, err := strconv.ParseInt(x.form.Get("version"), 10, 64)
	if err != nil || version < 0 {
		x.badRequest("The form lacks the client's version; reload the client's page.")
		return
	}
	ctx := x.r.Context()
	form := x.readClientForm()
	form.ID, form.Version = id, version
	patch := admin.ClientPatch{Name: &form.Name, Public: &form.Public, Trusted: &form.Trusted,
		GrantTypes: &form.GrantTypes, Scopes: &form.Scopes, RedirectURIs: &form.RedirectURIs,
		PostLogoutRedirectURIs: &form.PostLogoutRedirectURIs, TokenFormat: &form.TokenFormat, Version: version}
	cl, secret, err := x.adm.UpdateClient(ctx, id, patch)
	if err != nil {
		stored, gerr := x.adm.GetClient(ctx, id)
		if gerr != nil {
			x.fail(gerr)
			return
		}
		p := &clientPage{Page: Page{Title: "Client " + id, Nav: "clients"}, Client: stored, Form: form}
		if x.invalidClient(err, "client", p) {
			return
		}
		if errors.Is(err, storage.ErrConflict) {
			// Someone saved the client since this form was loaded: show what is stored now.
			p.Form = formOf(stored)
			p.Error = "The client was changed by someone else while you edited it, so your changes were not saved. " +
				"The form now shows the current values; make your changes again."
			x.renderClientForm(http.StatusConflict, "client", p)
			return
		}
		x.fail(err)
		return
	}
	f := flash{Message: fmt.Sprintf("Client %s was saved.", cl.ID)}
	if secret != "" {
		f.Secret, f.Label = secret, "New client secret of "+cl.ID
		f.Note = "The client is confidential now and needs this secret to authenticate."
	}
	x.redirect(clientURL(cl.ID), f)
}

func (c *Console) clientRotate(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	secret, err := x.adm.RotateSecret(x.r.Context(), id)
	if err != nil {
		x.fail(err)
		return
	}
	x.redirect(clientURL(id), flash{Message: "The secret of " + id + " was rotated; the old one no longer works.",
		Secret: secret, Label: "New client secret of " + id, Note: "Only a hash is stored; if it is lost, rotate again."})
}

// confirmPage asks before deleting something.
type confirmPage struct {
	Page
	// What is deleted, in words; Action the form's target; Field and Value its hidden input;
	// Cancel the page to go back to.
	What, Action, Field, Value, Cancel string
	// Consequences lists what else goes.
	Consequences []string
}

func (c *Console) clientDeletePage(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	cl, err := x.adm.GetClient(x.r.Context(), id)
	if err != nil {
		x.fail(err)
		return
	}
	p := &confirmPage{Page: Page{Title: "Delete client " + cl.ID, Nav: "clients"}, What: "the client " + cl.Name + " (" + cl.ID + ")",
		Action: pathClientDel, Field: "id", Value: cl.ID, Cancel: clientURL(cl.ID),
		Consequences: []string{"Its tokens stop working at once (JWT access tokens of users are deny-listed).",
			"Applications using it can no longer get tokens."}}
	if cl.Declared {
		p.Consequences = append(p.Consequences, "It is declared in the configuration file, so it comes back at the next start unless removed there too.")
	}
	x.render(http.StatusOK, "confirm", p)
}

func (c *Console) clientDelete(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	if err := x.adm.DeleteClient(x.r.Context(), id); err != nil {
		x.fail(err)
		return
	}
	x.redirect(pathClients, flash{Message: "Client " + id + " was deleted."})
}

// tokensPage lists active tokens (of a client or a user).
type tokensPage struct {
	Page
	Client storage.Client
	Tokens []storage.Token
	Now    time.Time
}

func (c *Console) clientTokens(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	ctx := x.r.Context()
	cl, err := x.adm.GetClient(ctx, id)
	if err != nil {
		x.fail(err)
		return
	}
	list, err := x.adm.ListClientTokens(ctx, id)
	if err != nil {
		x.fail(err)
		return
	}
	x.render(http.StatusOK, "client_tokens", &tokensPage{Page: Page{Title: "Tokens of " + cl.ID, Nav: "clients"},
		Client: cl, Tokens: list, Now: c.now()})
}

func (c *Console) clientTokensRevoke(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	ctx := x.r.Context()
	back := pathClientTok + "?id=" + url.QueryEscape(id)
	switch x.form.Get("op") {
	case "revoke":
		tid, ok := x.param("token")
		if !ok {
			return
		}
		t, err := x.adm.GetToken(ctx, tid)
		if err == nil && t.ClientID != id {
			err = fmt.Errorf("token of another client: %w", storage.ErrNotFound)
		}
		if err == nil {
			_, err = x.adm.RevokeToken(ctx, tid)
		}
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(back, flash{Message: "The token was revoked."})
	case "revoke_all":
		n, err := x.adm.RevokeClientTokens(ctx, id)
		if err != nil {
			x.fail(err)
			return
		}
		x.redirect(back, flash{Message: fmt.Sprintf("%d token(s) of %s were revoked.", n, id)})
	default:
		x.badRequest("Unknown operation.")
	}
}
