package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func servertestNow(c *clock) servertest.Option { return servertest.WithNow(c.Now) }

func TestMetadataDocuments(t *testing.T) {
	oauthKeys := []string{
		"issuer", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint",
		"scopes_supported", "response_types_supported", "grant_types_supported",
		"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported",
		"revocation_endpoint_auth_methods_supported",
	}
	browserKeys := []string{"authorization_endpoint", "response_modes_supported", "code_challenge_methods_supported",
		"authorization_response_iss_parameter_supported"}
	oidcEndpoints := []string{"userinfo_endpoint", "end_session_endpoint"}
	deviceKeys := []string{"device_authorization_endpoint"}
	oidcOnly := []string{"id_token_signing_alg_values_supported", "claims_supported"}
	cat := func(lists ...[]string) []string { return slices.Concat(lists...) }
	cases := []struct {
		name  string
		opts  []servertest.Option
		docs  map[string][]string
		check func(t *testing.T, m map[string]any, strs func(string) []string, openid bool)
	}{
		{
			name: "machine only",
			opts: []servertest.Option{servertest.WithoutOpenID(), servertest.WithGrantTypes("client_credentials")},
			docs: map[string][]string{
				"/.well-known/oauth-authorization-server": oauthKeys,
				"/.well-known/openid-configuration":       cat(oauthKeys, []string{"subject_types_supported"}),
			},
			check: func(t *testing.T, m map[string]any, strs func(string) []string, openid bool) {
				if got := strs("grant_types_supported"); !slices.Equal(got, []string{"client_credentials"}) {
					t.Errorf("grant_types_supported %v", got)
				}
				if got := strs("scopes_supported"); !slices.Equal(got, []string{"admin", "email", "offline_access", "profile", "read", "write"}) {
					t.Errorf("scopes_supported %v (openid without ID tokens?)", got)
				}
				if got := m["response_types_supported"].([]any); len(got) != 0 {
					t.Errorf("response_types_supported %v", got)
				}
				for _, k := range []string{"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported",
					"revocation_endpoint_auth_methods_supported"} {
					if got := strs(k); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post"}) {
						t.Errorf("%s %v", k, got)
					}
				}
			},
		},
		{
			name: "OpenID Connect",
			docs: map[string][]string{
				"/.well-known/oauth-authorization-server": cat(oauthKeys, browserKeys, oidcEndpoints, deviceKeys),
				"/.well-known/openid-configuration":       cat(oauthKeys, browserKeys, oidcEndpoints, deviceKeys, oidcOnly, []string{"subject_types_supported"}),
			},
			check: func(t *testing.T, m map[string]any, strs func(string) []string, openid bool) {
				if got := strs("grant_types_supported"); !slices.Equal(got, []string{"client_credentials", "authorization_code", "refresh_token",
					"urn:ietf:params:oauth:grant-type:device_code"}) {
					t.Errorf("grant_types_supported %v", got)
				}
				if m["device_authorization_endpoint"] != m["issuer"].(string)+"/oauth2/device_authorization" {
					t.Errorf("device_authorization_endpoint %v", m["device_authorization_endpoint"])
				}
				if got := strs("scopes_supported"); !slices.Equal(got, []string{"admin", "email", "offline_access", "openid", "profile", "read", "write"}) {
					t.Errorf("scopes_supported %v", got)
				}
				// The implicit and hybrid types are off by default.
				if got := strs("response_types_supported"); !slices.Equal(got, []string{"code"}) {
					t.Errorf("response_types_supported %v", got)
				}
				if got := strs("response_modes_supported"); !slices.Equal(got, []string{"query", "fragment", "form_post"}) {
					t.Errorf("response_modes_supported %v", got)
				}
				if got := strs("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
					t.Errorf("code_challenge_methods_supported %v", got)
				}
				if m["authorization_response_iss_parameter_supported"] != true {
					t.Error("authorization_response_iss_parameter_supported is not true")
				}
				if got := strs("token_endpoint_auth_methods_supported"); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post", "none"}) {
					t.Errorf("token_endpoint_auth_methods_supported %v", got)
				}
				if got := strs("introspection_endpoint_auth_methods_supported"); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post"}) {
					t.Errorf("introspection_endpoint_auth_methods_supported %v", got)
				}
				if openid {
					if got := strs("id_token_signing_alg_values_supported"); !slices.Equal(got, []string{"RS256"}) {
						t.Errorf("id_token_signing_alg_values_supported %v", got)
					}
					if got := strs("claims_supported"); !slices.Contains(got, "sub") || !slices.Contains(got, "email") {
						t.Errorf("claims_supported %v", got)
					}
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			for path, wantKeys := range tc.docs {
				t.Run(path, func(t *testing.T) {
					r := e.get(t, path)
					if r.status != http.StatusOK {
						t.Fatalf("%d %s", r.status, r.body)
					}
					if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("ETag") == "" ||
						r.header.Get("Cache-Control") != "public, max-age=300" {
						t.Errorf("headers %v", r.header)
					}
					var doc map[string]json.RawMessage
					if err := json.Unmarshal(r.body, &doc); err != nil {
						t.Fatal(err)
					}
					if got, want := slices.Sorted(maps.Keys(doc)), slices.Sorted(slices.Values(wantKeys)); !slices.Equal(got, want) {
						t.Errorf("keys %v\nwant %v", got, want)
					}
					m := r.json(t)
					if m["issuer"] != e.URL {
						t.Errorf("issuer %v", m["issuer"])
					}
					strs := func(k string) []string {
						var out []string
						list, _ := m[k].([]any)
						for _, v := range list {
							out = append(out, v.(string))
						}
						return out
					}
					openid := strings.Contains(path, "openid")
					tc.check(t, m, strs, openid)
					if openid && !slices.Equal(strs("subject_types_supported"), []string{"public"}) {
						t.Errorf("subject_types_supported %v", m["subject_types_supported"])
					}
					// Every advertised endpoint exists.
					for k, v := range m {
						if !strings.HasSuffix(k, "_endpoint") && !strings.HasSuffix(k, "_uri") {
							continue
						}
						u := v.(string)
						if !strings.HasPrefix(u, e.URL+"/") {
							t.Errorf("%s = %s is not under the issuer", k, u)
							continue
						}
						if got := e.get(t, strings.TrimPrefix(u, e.URL)); got.status == http.StatusNotFound {
							t.Errorf("%s = %s: 404", k, u)
						}
					}
				})
			}
			// A real OpenID Connect client accepts the configuration.
			p, err := oidc.NewProvider(context.Background(), e.URL)
			if err != nil {
				t.Fatalf("go-oidc: %v", err)
			}
			if p.Endpoint().TokenURL != e.URL+"/oauth2/token" {
				t.Errorf("go-oidc token URL %q", p.Endpoint().TokenURL)
			}
		})
	}
}

func TestMetadataCache(t *testing.T) {
	c := newClock()
	e := newEnv(t, servertestNow(c), servertest.WithServerOptions(func(o *server.Options) {
		o.MetadataCacheTTL = 5 * time.Second
	}))
	path := "/.well-known/oauth-authorization-server"
	first := e.get(t, path)
	etag := first.header.Get("ETag")
	if r := e.get(t, path, "If-None-Match", etag); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("If-None-Match: %d", r.status)
	}
	e.CreateScope(t, storage.Scope{Name: "extra"})
	if r := e.get(t, path); r.header.Get("ETag") != etag || strings.Contains(string(r.body), "extra") {
		t.Error("the cached document changed before the TTL")
	}
	c.Add(6 * time.Second)
	r := e.get(t, path)
	if r.header.Get("ETag") == etag || !strings.Contains(string(r.body), `"extra"`) {
		t.Errorf("the document was not rebuilt after the TTL: %s", r.body)
	}
}

func TestJWKS(t *testing.T) {
	e := newEnv(t, servertest.WithoutOpenID()) // ES256 keys only
	r := e.get(t, "/oauth2/jwks")
	if r.status != http.StatusOK {
		t.Fatalf("%d", r.status)
	}
	etag := r.header.Get("ETag")
	if etag == "" || r.header.Get("Cache-Control") != "public, max-age=300" ||
		r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("headers %v", r.header)
	}
	set := e.jwks(t)
	if len(set.Keys) != 2 { // current and next
		t.Errorf("%d keys", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.KeyID == "" || k.Algorithm != "ES256" || k.Use != "sig" {
			t.Errorf("key %+v", k)
		}
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := e.get(t, "/oauth2/jwks", "If-None-Match", inm)
		if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d", inm, r.status)
		}
	}
	if r := e.get(t, "/oauth2/jwks", "If-None-Match", `"stale"`); r.status != http.StatusOK {
		t.Errorf("stale ETag: %d", r.status)
	}
	// CORS preflight.
	req, _ := http.NewRequest(http.MethodOptions, e.URL+"/oauth2/jwks", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	pre := e.do(t, req)
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight %d %v", pre.status, pre.header)
	}
	// Not a POST endpoint.
	if r := e.post(t, "/oauth2/jwks", "", "", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST jwks: %d", r.status)
	}
}

func TestNotFound(t *testing.T) {
	// Without a grant that uses it and without ID tokens, the browser endpoints are not served.
	e := newEnv(t, servertest.WithoutOpenID(), servertest.WithGrantTypes("client_credentials"))
	for _, p := range []string{"/", "/oauth2/authorize", "/oauth2/userinfo", "/oauth2/token/extra", "/debug/pprof/"} {
		if r := e.get(t, p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
}
