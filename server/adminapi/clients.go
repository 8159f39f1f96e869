package adminapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func listClients(w http.ResponseWriter, r *http.Request, c *call) error {
	return listSearchable(w, r, cursorClients, func(search, after string, limit int) ([]storage.Client, string, error) {
		return c.adm.QueryClients(r.Context(), storage.ClientQuery{Search: search, After: after, Limit: limit})
	}, toClientJSON)
}

// listSearchable answers a searchable list (q, limit, cursor) of one page that fetch reads,
// each item converted by toJSON.
func listSearchable[T, J any](w http.ResponseWriter, r *http.Request, cursorKind string,
	fetch func(search, after string, limit int) ([]T, string, error), toJSON func(T) J) error {
	q, err := query(r, "q", "limit", "cursor")
	if err != nil {
		return err
	}
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	after, err := decodeCursor(q, cursorKind)
	if err != nil {
		return err
	}
	items, next, err := fetch(q.Get("q"), after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[J]{Items: mapList(items, toJSON), NextCursor: encodeCursor(cursorKind, next)})
	return nil
}

func createClient(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in clientCreateJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	client, secret, err := c.adm.CreateClient(r.Context(), admin.ClientInput{
		ID: in.ID, Name: in.Name, Public: in.Public, Trusted: in.Trusted, GrantTypes: in.GrantTypes, Scopes: in.Scopes,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs, TokenFormat: in.TokenFormat,
	})
	if err != nil {
		return err
	}
	out := toClientJSON(client)
	out.ClientSecret = secret
	w.Header().Set("ETag", etag(client.Version))
	w.Header().Set("Location", Prefix+"/clients/"+url.PathEscape(client.ID))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func getClient(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	client, err := c.adm.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(client.Version))
	writeJSON(w, http.StatusOK, toClientJSON(client))
	return nil
}

// updateClient applies a PATCH. With If-Match, the update happens only if the client is still
// at that version (412 otherwise); without, a concurrent update that lands between the read
// and the write is a 409, never a lost update.
func updateClient(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	version, conditional, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in clientPatchJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	patch := in.patch()
	patch.Version = version
	client, secret, err := c.adm.UpdateClient(r.Context(), r.PathValue("id"), patch)
	if err != nil {
		if conditional && errors.Is(err, storage.ErrConflict) {
			return &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed,
				Description: "the client changed since it was read (If-Match does not match its ETag); read it again"}
		}
		if errors.Is(err, storage.ErrConflict) {
			return &Error{Status: http.StatusConflict, Code: CodeConflict,
				Description: "the client was changed by another request at the same time; read it and try again"}
		}
		return err
	}
	out := toClientJSON(client)
	out.ClientSecret = secret
	w.Header().Set("ETag", etag(client.Version))
	writeJSON(w, http.StatusOK, out)
	return nil
}

func deleteClient(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.adm.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func rotateSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	id := r.PathValue("id")
	secret, err := c.adm.RotateSecret(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, secretJSON{ClientID: id, ClientSecret: secret})
	return nil
}

func listClientTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListClientTokens(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[tokenJSON]{Items: mapList(list, toTokenJSON)})
	return nil
}

func revokeClientTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	n, err := c.adm.RevokeClientTokens(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, countJSON{Revoked: n})
	return nil
}
