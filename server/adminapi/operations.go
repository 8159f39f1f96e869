package adminapi

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func getToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	t, err := c.adm.GetToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTokenJSON(t))
	return nil
}

func revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	t, err := c.adm.RevokeToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTokenJSON(t))
	return nil
}

func revokeGrant(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	n, err := c.adm.RevokeGrant(r.Context(), r.PathValue("grant_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, countJSON{Revoked: n})
	return nil
}

func listKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListKeys(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[keyJSON]{Items: mapList(list, toKeyJSON)})
	return nil
}

// maxRetain bounds a requested retention of a rotated-out key.
const maxRetain = 365 * 24 * time.Hour

func (api *API) rotateKey(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in rotateKeyJSON
	if err := c.decodeOptional(w, r, &in); err != nil {
		return err
	}
	alg := in.Algorithm
	if alg == "" {
		alg = api.opts.KeyAlgorithms[0]
	}
	if !slices.Contains(api.opts.KeyAlgorithms, alg) {
		return invalidField("algorithm", "%q is not an algorithm this server signs with (%s)", clip(alg),
			strings.Join(api.opts.KeyAlgorithms, ", "))
	}
	retain := api.opts.KeyRetain(alg)
	if in.Retain != "" {
		d, err := time.ParseDuration(in.Retain)
		if err != nil || d < 0 || d > maxRetain {
			return invalidField("retain", `must be a duration such as "24h", at most %s`, maxRetain)
		}
		// Never shorter than the server's setting: the old key must outlive its tokens.
		if d < retain {
			return invalidField("retain", "must be at least %s, the lifetime of the tokens the key signed", retain)
		}
		retain = d
	}
	cur, err := c.adm.RotateKey(r.Context(), alg, retain)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rotatedKeyJSON{Current: toKeyJSON(cur), Retain: retain.String()})
	return nil
}

func listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := query(r, "type", "actor", "client_id", "subject", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	f := storage.AuditFilter{Type: q.Get("type"), Actor: q.Get("actor"), ClientID: q.Get("client_id"), Subject: q.Get("subject")}
	if f.Limit, err = limitParam(q); err != nil {
		return err
	}
	if f.Since, err = timeParam(q, "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q, "until"); err != nil {
		return err
	}
	if f.BeforeTime, f.BeforeID, err = decodeAuditCursor(q); err != nil {
		return err
	}
	list, more, err := c.adm.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := listJSON[auditEventJSON]{Items: mapList(list, toAuditJSON)}
	if more && len(list) > 0 {
		last := list[len(list)-1]
		out.NextCursor = auditCursor(last.Time, last.ID)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func listAdminTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := c.adm.ListAdminTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listJSON[adminTokenJSON]{Items: mapList(list, toAdminTokenJSON)})
	return nil
}

func createAdminToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in adminTokenCreateJSON
	if err := c.decode(w, r, &in); err != nil {
		return err
	}
	if in.ExpiresIn < 0 || in.ExpiresIn > maxExpiresIn {
		return invalidField("expires_in", "must be 0 (never expires) or a positive number of seconds")
	}
	t, value, err := c.adm.CreateAdminToken(r.Context(), admin.AdminTokenInput{Name: in.Name,
		Lifetime: time.Duration(in.ExpiresIn) * time.Second})
	if err != nil {
		return err
	}
	out := toAdminTokenJSON(t)
	out.Token = value
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func revokeAdminToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := c.adm.RevokeAdminToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
