package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// scopesPage is the scope catalogue with the new-scope form and an edit form per scope.
type scopesPage struct {
	Page
	Scopes  []storage.Scope
	BuiltIn []scopeOption
	// New is the new-scope form as typed, and Errors its messages; Edit names the scope
	// whose edit form EditErrors belong to.
	New        storage.Scope
	Errors     fieldErrors
	Edit       string
	EditErrors fieldErrors
}

var scopeFields = map[string]bool{"name": true, "description": true, "default": true}

func (x *exchange) scopesPage(p *scopesPage) bool {
	list, err := x.adm.ListScopes(x.r.Context())
	if err != nil {
		x.fail(err)
		return false
	}
	p.Title, p.Nav, p.Scopes, p.BuiltIn = "Scopes", "scopes", list, builtinScopes
	return true
}

func (c *Console) scopeList(x *exchange) {
	p := &scopesPage{}
	if x.scopesPage(p) {
		x.render(http.StatusOK, "scopes", p)
	}
}

func (c *Console) scopeCreate(x *exchange) {
	in := admin.ScopeInput{Name: strings.TrimSpace(x.form.Get("name")), Description: x.form.Get("description"),
		Default: checked(x.form, "default")}
	s, err := x.adm.CreateScope(x.r.Context(), in)
	if err != nil {
		p := &scopesPage{New: storage.Scope{Name: in.Name, Description: in.Description, Default: in.Default}}
		status := http.StatusUnprocessableEntity
		fe, general, ok := validationErrors(err, scopeFields, nil)
		switch {
		case ok:
			p.Errors = fe
			p.Error = "The scope was not created: correct the fields marked below. " + strings.Join(general, "; ")
		case errors.Is(err, storage.ErrConflict):
			status = http.StatusConflict
			p.Errors = fieldErrors{"name": {"A scope with this name exists already."}}
			p.Error = "The scope was not created: correct the fields marked below."
		default:
			x.fail(err)
			return
		}
		if x.scopesPage(p) {
			x.render(status, "scopes", p)
		}
		return
	}
	x.redirect(pathScopes, flash{Message: "Scope " + s.Name + " was created."})
}

func (c *Console) scopeUpdate(x *exchange) {
	name, ok := x.param("name")
	if !ok {
		return
	}
	desc := x.form.Get("description")
	def := checked(x.form, "default")
	patch := admin.ScopePatch{Description: &desc, Default: &def}
	switch x.form.Get("op") {
	case "default":
		patch.Description = nil
	case "", "save":
	default:
		x.badRequest("Unknown operation.")
		return
	}
	s, err := x.adm.UpdateScope(x.r.Context(), name, patch)
	if err != nil {
		fe, general, ok := validationErrors(err, scopeFields, nil)
		if !ok {
			x.fail(err)
			return
		}
		p := &scopesPage{Edit: name, EditErrors: fe}
		p.Error = "Scope " + name + " was not saved: correct the field marked below. " + strings.Join(general, "; ")
		if x.scopesPage(p) {
			// Show the description as typed in the scope's form.
			for i := range p.Scopes {
				if p.Scopes[i].Name == name {
					p.Scopes[i].Description = desc
				}
			}
			x.render(http.StatusUnprocessableEntity, "scopes", p)
		}
		return
	}
	msg := "Scope " + s.Name + " was saved."
	if patch.Description == nil {
		msg = "Scope " + s.Name + " is no longer a default scope."
		if s.Default {
			msg = "Scope " + s.Name + " is a default scope now."
		}
	}
	x.redirect(pathScopes, flash{Message: msg})
}

func (c *Console) scopeDeletePage(x *exchange) {
	name, ok := x.param("name")
	if !ok {
		return
	}
	s, err := x.adm.GetScope(x.r.Context(), name)
	if err != nil {
		x.fail(err)
		return
	}
	x.render(http.StatusOK, "confirm", &confirmPage{Page: Page{Title: "Delete scope " + s.Name, Nav: "scopes"},
		What: "the scope " + s.Name, Action: pathScopeDel, Field: "name", Value: s.Name, Cancel: pathScopes,
		Consequences: []string{"Clients must no longer be allowed it: remove it from them first (the deletion is refused otherwise).",
			"Tokens already issued with it keep it until they expire."}})
}

func (c *Console) scopeDelete(x *exchange) {
	name, ok := x.param("name")
	if !ok {
		return
	}
	if err := x.adm.DeleteScope(x.r.Context(), name); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			p := &scopesPage{}
			p.Error = "Scope " + name + " was not deleted: " + reason(err) + ". Remove it from those clients first."
			if x.scopesPage(p) {
				x.render(http.StatusConflict, "scopes", p)
			}
			return
		}
		x.fail(err)
		return
	}
	x.redirect(pathScopes, flash{Message: "Scope " + name + " was deleted."})
}
