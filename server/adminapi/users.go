package adminapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func listUsers(w http.ResponseWriter, r *http.Request, c *call) error {
	return listSearchable(w, r, cursorUsers, func(search, after string, limit int) ([]storage.User, string, error) {
		return c.adm.QueryUsers(r.Context(), storage.UserQuery{Search: search, After: after, Limit: limit})
	}, toUserJSON)
}

func createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in userCreateJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	u, generated, err := c.adm.CreateUser(r.Context(), admin.UserInput{Username: in.Username, Password: in.Password,
		PasswordHash: in.PasswordHash, Email: in.Email, EmailVerified: in.EmailVerified, Name: in.Name, Roles: in.Roles})
	if err != nil {
		return err
	}
	out := toUserJSON(u)
	out.Password = generated
	w.Header().Set("Location", Prefix+"/users/"+url.PathEscape(u.ID))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func getUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	u, err := c.adm.GetUser(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func updateUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in userPatchJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	u, err := c.adm.UpdateUser(r.Context(), r.PathValue("ref"), admin.UserPatch{Username: in.Username, Email: in.Email,
		EmailVerified: in.EmailVerified, Name: in.Name, Roles: in.Roles})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func deleteUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	u, err := c.adm.DeleteUser(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func disableUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	u, out, err := c.adm.DisableUser(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, disableJSON{User: toUserJSON(u), SessionsEnded: out.Sessions, TokensRevoked: out.Tokens})
	return nil
}

func enableUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	u, err := c.adm.EnableUser(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// setPassword sets the given password, or a generated one returned in the answer.
func setPassword(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in passwordRequestJSON
	if err := c.decodeOptional(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	ref := r.PathValue("ref")
	// Resolved first, so that an unknown user is a 404 before a password is generated.
	u, err := c.adm.GetUser(ctx, ref)
	if err != nil {
		return err
	}
	password, generated := in.Password, ""
	if password == "" {
		if password, err = admin.NewPassword(); err != nil {
			return serverError(err)
		}
		generated = password
	}
	out, err := c.adm.SetPassword(ctx, u.ID, password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, passwordResultJSON{ID: u.ID, Username: u.Username, SessionsEnded: out.Sessions, Password: generated})
	return nil
}

func listSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListSessions(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[sessionJSON]{Items: mapList(list, toSessionJSON)})
	return nil
}

func revokeSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	n, err := c.adm.RevokeSessions(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, countJSON{Revoked: n})
	return nil
}

func revokeSession(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.adm.RevokeSession(r.Context(), r.PathValue("ref"), r.PathValue("id")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func listConsents(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListConsents(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[consentJSON]{Items: mapList(list, toConsentJSON)})
	return nil
}

func revokeConsent(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	n, err := c.adm.RevokeConsent(r.Context(), r.PathValue("ref"), r.PathValue("client_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, countJSON{Revoked: n})
	return nil
}

func listUserTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListUserTokens(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[tokenJSON]{Items: mapList(list, toTokenJSON)})
	return nil
}

func revokeUserTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	n, err := c.adm.RevokeUserTokens(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, countJSON{Revoked: n})
	return nil
}

func listPersonalTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListPersonalTokens(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[tokenJSON]{Items: mapList(list, toTokenJSON)})
	return nil
}

// maxExpiresIn bounds expires_in before it becomes a Duration (which would overflow).
const maxExpiresIn = 100 * 365 * 24 * 3600

func createPersonalToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in personalTokenCreateJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	if in.ExpiresIn < 0 || in.ExpiresIn > maxExpiresIn {
		return invalidField("expires_in", "must be a positive number of seconds")
	}
	t, value, err := c.adm.CreatePersonalToken(r.Context(), admin.PersonalTokenInput{User: r.PathValue("ref"), Name: in.Name,
		Scopes: in.Scopes, Lifetime: time.Duration(in.ExpiresIn) * time.Second})
	if err != nil {
		return err
	}
	out := toTokenJSON(t)
	out.Token = value
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func revokeUserPersonalToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	t, err := c.adm.RevokePersonalToken(r.Context(), r.PathValue("ref"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTokenJSON(t))
	return nil
}

func revokePersonalToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	t, err := c.adm.RevokePersonalToken(r.Context(), "", r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTokenJSON(t))
	return nil
}
