package adminapi

import (
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/admin"
)

func listScopes(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListScopes(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[scopeJSON]{Items: mapList(list, toScopeJSON)})
	return nil
}

func createScope(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in scopeCreateJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	s, err := c.adm.CreateScope(r.Context(), admin.ScopeInput{Name: in.Name, Description: in.Description, Default: in.Default})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/scopes/"+url.PathEscape(s.Name))
	writeJSON(w, http.StatusCreated, toScopeJSON(s))
	return nil
}

func getScope(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	s, err := c.adm.GetScope(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toScopeJSON(s))
	return nil
}

func updateScope(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in scopePatchJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	s, err := c.adm.UpdateScope(r.Context(), r.PathValue("name"), admin.ScopePatch{Description: in.Description, Default: in.Default})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toScopeJSON(s))
	return nil
}

func deleteScope(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.adm.DeleteScope(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
