package oauth

import (
	"context"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// resolveScopes decides the scopes of a grant that takes them from the request (RFC 6749
// 3.3). Requested scopes must all be allowed to the client and exist in the catalogue; when
// the request names none, the catalogue's default scopes that the client is allowed are
// granted, and with no such default the request fails with invalid_scope.
func (p *Provider) resolveScopes(ctx context.Context, client *storage.Client, requested []string) ([]string, error) {
	catalogue, err := p.cache.scopeCatalogue(ctx)
	if err != nil {
		return nil, storageError(err)
	}
	if len(requested) == 0 {
		var defaults []string
		for _, name := range client.Scopes {
			if s, ok := catalogue[name]; ok && s.Default {
				defaults = append(defaults, name)
			}
		}
		if len(defaults) == 0 {
			return nil, ErrInvalidScope("no scope was requested and the client has no default scope")
		}
		return defaults, nil
	}
	for _, s := range requested {
		if _, ok := catalogue[s]; !ok || !slices.Contains(client.Scopes, s) {
			return nil, ErrInvalidScope("the scope %q is not allowed for this client", s)
		}
	}
	return requested, nil
}

func joinScopes(s []string) string { return strings.Join(s, " ") }
