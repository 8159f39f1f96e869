package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// apiTokensPage lists the admin API tokens, with the new-token form.
type apiTokensPage struct {
	Page
	Tokens []storage.AdminToken
	Now    time.Time
	// Name and Days are the new-token form as typed, and Errors its messages.
	Name   string
	Days   string
	Errors fieldErrors
}

var apiTokenFields = map[string]bool{"name": true, "expires_in": true}

func (x *exchange) apiTokensPage(p *apiTokensPage) bool {
	list, err := x.adm.ListAdminTokens(x.r.Context())
	if err != nil {
		x.fail(err)
		return false
	}
	p.Title, p.Nav, p.Tokens, p.Now = "Admin API tokens", "api_tokens", list, time.Now()
	if p.Days == "" {
		p.Days = "90"
	}
	return true
}

func (c *Console) apiTokenList(x *exchange) {
	p := &apiTokensPage{}
	if x.apiTokensPage(p) {
		x.render(http.StatusOK, "api_tokens", p)
	}
}

// apiTokenCreate makes an admin API token; its value is shown once, on the page the browser
// is redirected to.
func (c *Console) apiTokenCreate(x *exchange) {
	name := strings.TrimSpace(x.form.Get("name"))
	days := strings.TrimSpace(x.form.Get("days"))
	p := &apiTokensPage{Name: name, Days: days}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 {
		p.Errors = fieldErrors{"expires_in": {"Enter a whole number of days (0: the token does not expire)."}}
		p.Error = "The token was not created: correct the fields marked below."
		if x.apiTokensPage(p) {
			x.render(http.StatusUnprocessableEntity, "api_tokens", p)
		}
		return
	}
	lifetime := time.Duration(min(n, int(admin.MaxAdminTokenLifetime/(24*time.Hour))+1)) * 24 * time.Hour
	t, value, err := x.adm.CreateAdminToken(x.r.Context(), admin.AdminTokenInput{Name: name, Lifetime: lifetime})
	if err != nil {
		fe, general, ok := validationErrors(err, apiTokenFields, nil)
		if !ok {
			x.fail(err)
			return
		}
		p.Errors = fe
		p.Error = "The token was not created: correct the fields marked below. " + strings.Join(general, "; ")
		if x.apiTokensPage(p) {
			x.render(http.StatusUnprocessableEntity, "api_tokens", p)
		}
		return
	}
	x.redirect(pathAPITokens, flash{Message: "Admin API token " + t.Name + " was created.",
		Secret: value, Label: "Admin API token " + t.Name,
		Note: "Send it as Authorization: Bearer …; only a hash is stored. Whoever holds it can do everything the admin API offers."})
}

func (c *Console) apiTokenRevoke(x *exchange) {
	id, ok := x.param("id")
	if !ok {
		return
	}
	err := x.adm.RevokeAdminToken(x.r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		x.redirect(pathAPITokens, flash{Message: "That token was revoked already."})
	case err != nil:
		x.fail(err)
	default:
		x.redirect(pathAPITokens, flash{Message: "The token was revoked; it stopped working at once."})
	}
}
