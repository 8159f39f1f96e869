// Package bearer protects Go HTTP APIs with OAuth 2.0 bearer tokens (RFC 6750) issued by
// Gatehouse or by any authorization server that issues RFC 9068 JWT access tokens or
// answers RFC 7662 introspection.
//
// New reads the issuer's metadata (OpenID Connect Discovery, falling back to RFC 8414) and its
// JSON Web Key Set. Verify then checks a token:
//
//   - A JWT (three base64url segments) is verified offline with the cached keys: the kid must
//     name a published key, the header alg must be one of Config.Algorithms, equal the key's
//     alg (when the JWK has one) and fit the key's type (never none, never HMAC), typ must be
//     at+jwt, iss must equal Config.Issuer, aud must contain Config.Audience, exp is required
//     and nbf and iat must not be in the future (all within Config.Leeway). A kid the cache
//     does not know makes the verifier refetch the key set, at most once per 10 seconds and
//     once for any number of concurrent requests; the key set is also refreshed every
//     Config.JWKSRefreshInterval. A JWT is not checked for revocation: its lifetime bounds it.
//   - Anything else is an opaque token, checked by introspection when the verifier has client
//     credentials (Config.IntrospectionClientID); active answers are cached until the earlier
//     of Config.IntrospectionCacheTTL and the token's expiry, inactive ones for a few seconds.
//
// Middleware takes the token from the Authorization header (and, when allowed, from a form
// body or the query), verifies it and puts its Claims in the request context (FromContext);
// RequireScope then asks for scopes. Failures are answered as RFC 6750 section 3 describes:
//
//	401  WWW-Authenticate: Bearer realm="api"                          (no token at all)
//	401  WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="..."
//	400  WWW-Authenticate: Bearer realm="api", error="invalid_request", error_description="..."
//	403  WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="..."
//	503  (introspection or key retrieval failed; no challenge)
//
// with a JSON body {"error": ..., "error_description": ...}. Descriptions are fixed sentences:
// a token, or anything taken from one, is never echoed or logged.
//
// The package imports only the standard library and go-jose, so an API that uses it pulls in
// nothing else of Gatehouse.
package bearer
