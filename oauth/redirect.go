package oauth

import (
	"net"
	"net/url"
	"slices"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// MatchRedirectURI reports whether uri may be used as the client's redirect URI: an exact
// string match with a registered URI, or, for public (native) clients, a loopback IP literal
// http URI that differs from a registered one only in its port (RFC 8252 7.3). Nothing else
// is ever accepted: no prefix, no wildcard, no normalization.
func MatchRedirectURI(client *storage.Client, uri string) bool {
	if slices.Contains(client.RedirectURIs, uri) {
		return true
	}
	if !client.Public {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || !isLoopbackHTTP(u) {
		return false
	}
	for _, reg := range client.RedirectURIs {
		r, err := url.Parse(reg)
		if err != nil || !isLoopbackHTTP(r) {
			continue
		}
		if r.Hostname() == u.Hostname() && r.EscapedPath() == u.EscapedPath() && r.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

func isLoopbackHTTP(u *url.URL) bool {
	if u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
