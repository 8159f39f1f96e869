package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// File and Line locate a value that came from the configuration file.
	File string
	Line int
	// Env names the environment variable a value came from.
	Env string
	// Path is the key path, such as "tokens.access_token_lifetime" or "clients[1].grant_types[0]".
	Path    string
	Message string
}

// String formats p as "file:line: path: message", "VARIABLE: message" or "path: message".
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Env != "":
		b.WriteString(p.Env + ": ")
	case p.File != "":
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
	case p.Path != "":
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found, in file order, then environment variables, then
// values that came from defaults.
type ValidationError struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps []Problem) []Problem {
	rank := func(p Problem) int {
		switch {
		case p.File != "":
			return 0
		case p.Env != "":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if a.File != "" {
			return a.Line - b.Line
		}
		return strings.Compare(a.Env, b.Env)
	})
	return ps
}

// Validate checks every value and returns a *ValidationError listing all problems, or nil.
// Problems carry key paths but no lines; Load adds where each value came from. Validate expects
// defaults to be filled (start from Defaults() when building a Config by hand); it reads the
// encryption key file when one is named.
func (c Config) Validate() error {
	if ps := c.problems(false); len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// Limits on lifetimes.
const (
	maxAccessTokenLifetime = 24 * time.Hour
	maxIDTokenLifetime     = 24 * time.Hour
	maxSessionLifetime     = 30 * 24 * time.Hour
	maxCodeLifetime        = 10 * time.Minute
	maxRefreshLifetime     = 8760 * time.Hour
	maxBodyBytesLimit      = 16 << 20
	// minAuditRetention keeps a typo from deleting the audit trail as it is written.
	minAuditRetention = time.Minute
)

// Limits shared with the admin package, which checks clients and scopes again when it applies
// them; checking here too reports them with their line.
const (
	maxNameLen        = 200
	maxDescriptionLen = 1000
	maxURILen         = 2000
	maxListLen        = 100
	minSecretLen      = 16
	grantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
)

var (
	algorithms  = []string{"ES256", "RS256", "PS256", "EdDSA"}
	grantTypes  = []string{"client_credentials", "authorization_code", "refresh_token", "password", "implicit", grantDeviceCode}
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"json", "text"}
	tokenFormat = []string{"jwt", "opaque"}
)

type checker struct{ ps []Problem }

func (ck *checker) add(path, format string, args ...any) {
	ck.ps = append(ck.ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ck *checker) oneOf(path, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		ck.add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func (ck *checker) lifetime(path string, d Duration, limit time.Duration) {
	switch {
	case d <= 0:
		ck.add(path, "must be positive, got %s", d)
	case limit > 0 && d.Std() > limit:
		ck.add(path, "must be at most %s, got %s", Duration(limit), d)
	}
}

// problems checks c; issuerDerived says that Issuer was filled in from Listen.
func (c Config) problems(issuerDerived bool) []Problem {
	ck := &checker{}
	// An issuer derived from an invalid listen would only repeat the listen problem.
	listenOK := checkHostPort(ck, "listen", c.Listen)
	if listenOK || !issuerDerived {
		c.checkIssuer(ck, issuerDerived)
	}
	if c.AdminEnabled() {
		checkHostPort(ck, "admin_listen", c.AdminListen)
		if c.AdminListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			ck.add("admin_listen", "must differ from listen (%s)", c.Listen)
		}
	}
	if c.DataDir == "" {
		ck.add("data_dir", "must not be empty")
	}
	checkDatabase(ck, c.Database)

	ck.oneOf("keys.algorithm", c.Keys.Algorithm, algorithms)
	ck.oneOf("keys.id_token_algorithm", c.Keys.IDTokenAlgorithm, algorithms)
	if rp := c.Keys.RotationPeriod; rp != 0 {
		longest := max(c.Tokens.AccessTokenLifetime, c.Tokens.IDTokenLifetime)
		switch {
		case rp < 0:
			ck.add("keys.rotation_period", "must not be negative (0 means manual rotation), got %s", rp)
		case rp.Std() < time.Hour:
			ck.add("keys.rotation_period", "must be 0 (manual) or at least 1h, got %s", rp)
		case rp < longest:
			ck.add("keys.rotation_period", "must be at least the longest token lifetime (%s), so a retired key outlives the tokens it signed", longest)
		}
	}
	if c.Keys.EncryptionKey != "" && c.Keys.EncryptionKeyFile != "" {
		ck.add("keys.encryption_key", "encryption_key and encryption_key_file are mutually exclusive")
	} else if c.Keys.EncryptionKey != "" {
		if _, err := decodeKey(c.Keys.EncryptionKey); err != nil {
			ck.add("keys.encryption_key", "%v", err)
		}
	} else if c.Keys.EncryptionKeyFile != "" {
		if _, err := c.Keys.EncryptionKeyBytes(); err != nil {
			ck.add("keys.encryption_key_file", "%v", err)
		}
	}

	ck.lifetime("tokens.access_token_lifetime", c.Tokens.AccessTokenLifetime, maxAccessTokenLifetime)
	ck.lifetime("tokens.refresh_token_lifetime", c.Tokens.RefreshTokenLifetime, maxRefreshLifetime)
	ck.lifetime("tokens.authorization_code_lifetime", c.Tokens.AuthorizationCodeLifetime, maxCodeLifetime)
	ck.lifetime("tokens.id_token_lifetime", c.Tokens.IDTokenLifetime, maxIDTokenLifetime)
	ck.lifetime("oauth.session_lifetime", c.OAuth.SessionLifetime, maxSessionLifetime)

	ck.oneOf("log.level", c.Log.Level, logLevels)
	ck.oneOf("log.format", c.Log.Format, logFormats)

	if b := c.HTTP.MaxBodyBytes; b <= 0 || b > maxBodyBytesLimit {
		ck.add("http.max_body_bytes", "must be between 1 and %d, got %d", maxBodyBytesLimit, b)
	}
	ck.lifetime("http.read_timeout", c.HTTP.ReadTimeout, 0)
	ck.lifetime("http.write_timeout", c.HTTP.WriteTimeout, 0)
	switch r := c.Audit.Retention; {
	case r < 0:
		ck.add("audit.retention", "must not be negative (0 keeps events forever), got %s", r)
	case r > 0 && r.Std() < minAuditRetention:
		ck.add("audit.retention", "must be 0 (forever) or at least %s, got %s", Duration(minAuditRetention), r)
	}
	if iv := c.Janitor.Interval.Std(); iv < time.Second || iv > 24*time.Hour {
		ck.add("janitor.interval", "must be between 1s and 24h, got %s", c.Janitor.Interval)
	}
	for i, proxy := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(proxy); err != nil {
			if _, err := netip.ParseAddr(proxy); err != nil {
				ck.add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%q is neither an IP address nor a CIDR prefix", proxy)
			}
		}
	}

	c.checkScopes(ck)
	c.checkClients(ck)
	c.checkUsers(ck)
	return ck.ps
}

func (c Config) checkIssuer(ck *checker, derived bool) {
	const path = "issuer"
	if c.Issuer == "" {
		ck.add(path, "must not be empty")
		return
	}
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		ck.add(path, "%q is not an absolute http(s) URL", c.Issuer)
		return
	case u.Scheme != "http" && u.Scheme != "https":
		ck.add(path, "%q must use https", c.Issuer)
		return
	case u.RawQuery != "" || u.ForceQuery:
		ck.add(path, "%q must not have a query", c.Issuer)
	case u.Fragment != "" || strings.Contains(c.Issuer, "#"):
		ck.add(path, "%q must not have a fragment", c.Issuer)
	case u.User != nil:
		ck.add(path, "%q must not contain user info", c.Issuer)
	case strings.HasSuffix(u.Path, "/"):
		ck.add(path, "%q must not end with a slash", c.Issuer)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			ck.add(path, "%q has an invalid port", c.Issuer)
		}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		msg := fmt.Sprintf("%q must use https (http is allowed only for 127.0.0.1, localhost and ::1)", c.Issuer)
		if derived {
			msg = fmt.Sprintf("not set, and the value derived from listen (%q) is only valid on a loopback address; set issuer to the public https URL", c.Issuer)
		}
		ck.add(path, "%s", msg)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func checkHostPort(ck *checker, path, v string) bool {
	host, port, err := net.SplitHostPort(v)
	switch {
	case err != nil:
		ck.add(path, "%q is not host:port", v)
	case !isPort(port):
		ck.add(path, "%q: port must be a number from 0 to 65535", v)
	case strings.ContainsAny(host, " /?#@"):
		ck.add(path, "%q: invalid host", v)
	default:
		return true
	}
	return false
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535 && s == strconv.Itoa(n)
}

// checkDatabase never quotes a DSN, which may hold a password.
func checkDatabase(ck *checker, dsn string) {
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		ck.add("database", "must not be empty")
	case strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://"):
		if u, err := url.Parse(dsn); err != nil || u.Host == "" && u.Query().Get("host") == "" {
			ck.add("database", "is not a valid postgres:// URL (postgres://user:password@host:5432/dbname)")
		}
	case strings.Contains(dsn, "://"):
		ck.add("database", "unsupported database URL; use a SQLite file path or a postgres:// DSN")
	}
}

// isScopeToken checks RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// isClientID accepts the unreserved URI characters [A-Za-z0-9._~-].
func isClientID(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("._~-", b) >= 0) {
			return false
		}
	}
	return s != ""
}

func (c Config) checkScopes(ck *checker) {
	seen := map[string]bool{}
	for i, s := range c.Scopes {
		p := fmt.Sprintf("scopes[%d]", i)
		switch {
		case s.Name == "":
			ck.add(p+".name", "is required")
		case !isScopeToken(s.Name):
			ck.add(p+".name", "%q is not a valid scope name (printable ASCII without spaces, \" or \\)", s.Name)
		case len(s.Name) > maxNameLen:
			ck.add(p+".name", "must be at most %d characters", maxNameLen)
		case seen[s.Name]:
			ck.add(p+".name", "%q is declared twice", s.Name)
		}
		seen[s.Name] = true
		checkText(ck, p+".description", s.Description, maxDescriptionLen)
	}
}

func (c Config) checkClients(ck *checker) {
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		p := fmt.Sprintf("clients[%d]", i)
		switch {
		case cl.ID == "":
			ck.add(p+".id", "is required")
		case len(cl.ID) > 255 || !isClientID(cl.ID):
			ck.add(p+".id", "%q must be 1 to 255 characters from A-Z a-z 0-9 . _ ~ -", cl.ID)
		case seen[cl.ID]:
			ck.add(p+".id", "%q is declared twice", cl.ID)
		}
		seen[cl.ID] = true
		checkText(ck, p+".name", cl.Name, maxNameLen)

		switch {
		case cl.Secret != "" && cl.SecretHash != "":
			ck.add(p, "secret and secret_hash are mutually exclusive")
		case cl.Public && (cl.Secret != "" || cl.SecretHash != ""):
			ck.add(p, "a public client has no secret; remove secret/secret_hash or public: true")
		case !cl.Public && cl.Secret == "" && cl.SecretHash == "":
			ck.add(p, "a confidential client needs secret or secret_hash (or set public: true)")
		}
		if cl.SecretHash != "" && !isSecretHash(cl.SecretHash) {
			ck.add(p+".secret_hash", `must be "sha256$" and 32 bytes in hex or base64, an argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") or a bcrypt hash`)
		}
		if cl.Secret != "" && len(cl.Secret) < minSecretLen {
			ck.add(p+".secret", "must be at least %d characters", minSecretLen)
		}

		if len(cl.GrantTypes) == 0 {
			ck.add(p+".grant_types", "at least one grant type is required")
		}
		gseen := map[string]bool{}
		for j, g := range cl.GrantTypes {
			gp := fmt.Sprintf("%s.grant_types[%d]", p, j)
			switch {
			case !slices.Contains(grantTypes, g):
				ck.add(gp, "%q is not one of %s", g, strings.Join(grantTypes, ", "))
			case gseen[g]:
				ck.add(gp, "%q is listed twice", g)
			case g == "client_credentials" && cl.Public:
				ck.add(gp, "client_credentials needs a confidential client")
			}
			gseen[g] = true
		}
		if gseen["refresh_token"] && !gseen["authorization_code"] && !gseen["password"] && !gseen[grantDeviceCode] {
			ck.add(p+".grant_types", "refresh_token needs a grant that issues refresh tokens (authorization_code, password or %s)", grantDeviceCode)
		}
		if (gseen["authorization_code"] || gseen["implicit"]) && len(cl.RedirectURIs) == 0 {
			ck.add(p+".redirect_uris", "at least one is required for authorization_code and implicit")
		}
		if len(cl.Scopes) > maxListLen {
			ck.add(p+".scopes", "at most %d scopes", maxListLen)
		}
		for j, s := range cl.Scopes {
			if !isScopeToken(s) {
				ck.add(fmt.Sprintf("%s.scopes[%d]", p, j), "%q is not a valid scope name (printable ASCII without spaces, \" or \\)", s)
			}
		}
		checkURIs(ck, p+".redirect_uris", cl.RedirectURIs)
		checkURIs(ck, p+".post_logout_redirect_uris", cl.PostLogoutRedirectURIs)
		if cl.TokenFormat != "" {
			ck.oneOf(p+".token_format", cl.TokenFormat, tokenFormat)
		}
	}
}

// checkURIs checks redirect URIs as the admin package does (RFC 6749 3.1.2, RFC 8252, RFC 9700
// 2.1): absolute, no fragment or user information, https, http only for loopback hosts, or a
// private-use scheme of a native app (com.example.app:/callback).
func checkURIs(ck *checker, path string, uris []string) {
	if len(uris) > maxListLen {
		ck.add(path, "at most %d URIs", maxListLen)
	}
	seen := map[string]bool{}
	for j, raw := range uris {
		p := fmt.Sprintf("%s[%d]", path, j)
		if msg := uriProblem(raw); msg != "" {
			ck.add(p, "%q %s", raw, msg)
		} else if seen[raw] {
			ck.add(p, "%q is listed twice", raw)
		}
		seen[raw] = true
	}
}

// forbiddenSchemes must never be redirected to.
var forbiddenSchemes = []string{"javascript", "data", "vbscript", "file", "blob", "about", "ws", "wss"}

func uriProblem(raw string) string {
	if len(raw) > maxURILen {
		return fmt.Sprintf("must be at most %d characters", maxURILen)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) {
		return "must not contain spaces, control or non-ASCII characters (percent-encode them)"
	}
	if strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return "is not an absolute URI"
	case u.User != nil:
		return "must not contain user information"
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https" && u.Hostname() == "":
		return "needs a host"
	case scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https (http is allowed only for 127.0.0.1, localhost and ::1)"
	case slices.Contains(forbiddenSchemes, scheme):
		return fmt.Sprintf("uses the %s scheme, which is not allowed", scheme)
	case scheme != "https" && scheme != "http" && u.Opaque == "" && u.Path == "" && u.Host == "":
		return "needs a path (e.g. com.example.app:/callback)"
	}
	return ""
}

// isSecretHash accepts the hashes the token package verifies: "sha256$" with 32 bytes in hex or
// base64, argon2id PHC strings and bcrypt.
func isSecretHash(h string) bool {
	if rest, ok := strings.CutPrefix(h, "sha256$"); ok {
		if len(rest) == 64 {
			if _, err := hex.DecodeString(rest); err == nil {
				return true
			}
		}
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
			if b, err := enc.DecodeString(rest); err == nil && len(b) == 32 {
				return true
			}
		}
		return false
	}
	return isPasswordHash(h)
}

// isPasswordHash checks the shape of an argon2id PHC string
// ("$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>") or a bcrypt hash; the token package checks
// the parameters.
func isPasswordHash(h string) bool {
	if strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$") {
		return len(h) == 60
	}
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" ||
		!strings.HasPrefix(parts[3], "m=") || !strings.Contains(parts[3], ",t=") || !strings.Contains(parts[3], ",p=") {
		return false
	}
	for _, part := range parts[4:] {
		if _, err := base64.RawStdEncoding.Strict().DecodeString(part); err != nil || part == "" {
			return false
		}
	}
	return true
}

// checkText checks a human-readable name or description as the admin package does.
func checkText(ck *checker, path, s string, limit int) {
	switch {
	case !utf8.ValidString(s):
		ck.add(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > limit:
		ck.add(path, "must be at most %d characters", limit)
	case strings.ContainsFunc(s, unicode.IsControl):
		ck.add(path, "must not contain control characters")
	}
}

func (c Config) checkUsers(ck *checker) {
	seen := map[string]bool{}
	for i, u := range c.Users {
		p := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Username == "":
			ck.add(p+".username", "is required")
		case len(u.Username) > 255 || strings.TrimSpace(u.Username) != u.Username || hasControl(u.Username):
			ck.add(p+".username", "%q must be at most 255 characters, without control characters or surrounding spaces", u.Username)
		case seen[u.Username]:
			ck.add(p+".username", "%q is declared twice", u.Username)
		}
		seen[u.Username] = true
		switch {
		case u.Password != "" && u.PasswordHash != "":
			ck.add(p, "password and password_hash are mutually exclusive")
		case u.Password == "" && u.PasswordHash == "":
			ck.add(p, "password or password_hash is required")
		case u.PasswordHash != "" && !isPasswordHash(u.PasswordHash):
			ck.add(p+".password_hash", `must be an argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") or a bcrypt hash`)
		}
		checkText(ck, p+".name", u.Name, maxNameLen)
		if u.Email != "" && !looksLikeEmail(u.Email) {
			ck.add(p+".email", "%q is not an email address", u.Email)
		}
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// looksLikeEmail is a loose check: something@domain, no spaces or control characters.
func looksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n<>") && !hasControl(s) &&
		!strings.HasPrefix(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}
