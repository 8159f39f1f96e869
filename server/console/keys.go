package console

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// keysPage lists the signing keys, with a rotate form per algorithm.
type keysPage struct {
	Page
	Keys       []admin.KeyInfo
	Algorithms []string
	// Retain is how long a rotated-out key stays published.
	Retain string
}

func (c *Console) keyList(x *exchange) {
	keys, err := x.adm.ListKeys(x.r.Context())
	if err != nil {
		x.fail(err)
		return
	}
	p := &keysPage{Page: Page{Title: "Signing keys", Nav: "keys"}, Keys: keys, Retain: c.opts.KeyRetain.String()}
	for _, k := range keys {
		if !slices.Contains(p.Algorithms, k.Algorithm) {
			p.Algorithms = append(p.Algorithms, k.Algorithm)
		}
	}
	slices.Sort(p.Algorithms)
	x.render(http.StatusOK, "keys", p)
}

func (c *Console) keyRotate(x *exchange) {
	alg, ok := x.param("algorithm")
	if !ok {
		return
	}
	keys, err := x.adm.ListKeys(x.r.Context())
	if err != nil {
		x.fail(err)
		return
	}
	// Only the algorithms in use are rotated here; a new algorithm comes with configuration.
	if !slices.ContainsFunc(keys, func(k admin.KeyInfo) bool { return k.Algorithm == alg && k.State != storage.KeyPrevious }) {
		x.badRequest("There is no " + clip(alg, 20) + " key to rotate.")
		return
	}
	k, err := x.adm.RotateKey(x.r.Context(), alg, c.opts.KeyRetain)
	if err != nil {
		x.fail(err)
		return
	}
	x.redirect(pathKeys, flash{Message: fmt.Sprintf("The %s key was rotated: %s signs new tokens; the previous key stays published for %s.",
		alg, k.ID, c.opts.KeyRetain)})
}
