package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/oidc"
)

// hvDocJSON is the content type of the metadata documents and the JWKS.
var hvDocJSON = []string{"application/json"}

// handleJWKS serves the JSON Web Key Set with an ETag, so verifiers can revalidate cheaply.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	doc, etag, err := s.provider.Keys().JWKS(r.Context())
	if err != nil {
		s.writeError(w, r, epJWKS, fmt.Errorf("load JWKS: %w", err))
		return
	}
	serveDocument(w, r, doc, etag)
}

// serveDocument writes a public, cacheable JSON document, or 304 when the client has it.
func serveDocument(w http.ResponseWriter, r *http.Request, doc []byte, etag string) {
	h := w.Header()
	h["Cache-Control"] = hvPublicDocs
	h["Etag"] = []string{etag}
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = hvDocJSON
	h["Content-Length"] = []string{strconv.Itoa(len(doc))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// etagMatches applies If-None-Match (RFC 9110 13.1.2, weak comparison): "*" or a list of
// entity tags, any of which may be weak (W/"...").
func etagMatches(headers []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, h := range headers {
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}

// metadata is an authorization server metadata document (RFC 8414), which is also the base
// of the OpenID Provider configuration (OpenID Connect Discovery 1.0). It lists only what
// the server implements and serves.
type metadata struct {
	Issuer                                    string   `json:"issuer"`
	AuthorizationEndpoint                     string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	UserinfoEndpoint                          string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint                        string   `json:"end_session_endpoint,omitempty"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	DeviceAuthorizationEndpoint               string   `json:"device_authorization_endpoint,omitempty"`
	ScopesSupported                           []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	ResponseModesSupported                    []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported             []string `json:"code_challenge_methods_supported,omitempty"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	// RFC 9207: every authorization response carries iss.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// OpenID Connect only.
	SubjectTypesSupported            []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ClaimsSupported                  []string `json:"claims_supported,omitempty"`
}

type document struct {
	body []byte
	etag string
}

// metadataDocs are both documents, built together from one scope catalogue read.
type metadataDocs struct {
	oauth, oidc document
}

// buildMetadata builds the RFC 8414 document, or with openid the OpenID Provider
// configuration. Both discovery documents come from this one function. Endpoints and
// features appear only when they are served: the authorization endpoint when a response
// type is enabled, userinfo, end-session and the ID token fields only with an ID token
// minter (Deps.IDTokens).
func (s *Server) buildMetadata(scopes []string, openid bool) (document, error) {
	md := s.provider.Metadata()
	methods := md.TokenAuthMethods
	doc := metadata{
		Issuer:                            s.opts.Issuer,
		TokenEndpoint:                     s.base + PathToken,
		JWKSURI:                           s.base + PathJWKS,
		IntrospectionEndpoint:             s.base + PathIntrospect,
		RevocationEndpoint:                s.base + PathRevoke,
		ScopesSupported:                   scopes,
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               md.GrantTypes,
		TokenEndpointAuthMethodsSupported: methods,
		// Public clients may revoke their tokens but never introspect.
		IntrospectionEndpointAuthMethodsSupported: slices.DeleteFunc(slices.Clone(methods), func(m string) bool {
			return m == oauth.AuthMethodNone
		}),
		RevocationEndpointAuthMethodsSupported: methods,
	}
	if len(md.ResponseTypes) > 0 {
		doc.AuthorizationEndpoint = s.base + PathAuthorize
		doc.ResponseTypesSupported = md.ResponseTypes
		doc.ResponseModesSupported = md.ResponseModes
		doc.CodeChallengeMethodsSupported = md.CodeChallengeMethods
		doc.AuthorizationResponseIssParameterSupported = true
	}
	if md.DeviceAuthorization {
		doc.DeviceAuthorizationEndpoint = s.base + PathDeviceAuthorization
	}
	if s.idTokens != nil {
		doc.UserinfoEndpoint = s.base + PathUserinfo
		doc.EndSessionEndpoint = s.base + PathEndSession
	}
	if openid {
		doc.SubjectTypesSupported = []string{"public"}
		if s.idTokens != nil {
			doc.IDTokenSigningAlgValuesSupported = s.opts.IDTokenAlgorithms
			doc.ClaimsSupported = oidc.ClaimsSupported()
		}
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return document{}, fmt.Errorf("encode metadata: %w", err)
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	return document{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}, nil
}

// metadataDocuments returns both documents, rebuilt from the scope catalogue at most once per
// Options.MetadataCacheTTL. If the catalogue cannot be read, the last documents are served.
func (s *Server) metadataDocuments(ctx context.Context) (*metadataDocs, error) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	now := s.now()
	if s.metaDocs != nil && s.opts.MetadataCacheTTL > 0 && now.Sub(s.metaBuilt) < s.opts.MetadataCacheTTL {
		return s.metaDocs, nil
	}
	catalogue, err := s.provider.ScopeCatalogue(ctx)
	if err != nil {
		if s.metaDocs != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "serving stale metadata: list scopes failed", slog.Any("err", err))
			return s.metaDocs, nil
		}
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	scopes := make([]string, 0, len(catalogue))
	for _, name := range slices.Sorted(maps.Keys(catalogue)) {
		// Without ID tokens, openid would promise what the server does not do.
		if oauth.ValidScopeToken(name) && (name != oauth.ScopeOpenID || s.idTokens != nil) {
			scopes = append(scopes, name)
		}
	}
	docs := &metadataDocs{}
	if docs.oauth, err = s.buildMetadata(scopes, false); err != nil {
		return nil, err
	}
	if docs.oidc, err = s.buildMetadata(scopes, true); err != nil {
		return nil, err
	}
	s.metaDocs, s.metaBuilt = docs, now
	return docs, nil
}

func (s *Server) handleMetadata(openid bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		docs, err := s.metadataDocuments(r.Context())
		if err != nil {
			s.writeError(w, r, epMetadata, err)
			return
		}
		d := docs.oauth
		if openid {
			d = docs.oidc
		}
		serveDocument(w, r, d.body, d.etag)
	}
}
