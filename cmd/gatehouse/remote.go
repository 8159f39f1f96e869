package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Environment variables of remote mode. They are read by the command, not by config.Load,
// which would refuse them as unknown (loadConfig hides them from it).
const (
	envAdminURL       = "GATEHOUSE_ADMIN_URL"
	envAdminToken     = "GATEHOUSE_ADMIN_TOKEN"
	envAdminTokenFile = "GATEHOUSE_ADMIN_TOKEN_FILE"
)

// cliOnlyEnv reports whether name is an environment variable of the command, not of the
// configuration.
func cliOnlyEnv(name string) bool {
	return name == envAdminURL || name == envAdminToken || name == envAdminTokenFile
}

// maxTokenFile bounds what --admin-token-file reads.
const maxTokenFile = 4096

// remote is where the management commands send their operations in remote mode.
type remote struct {
	// url is the admin API's base URL: https, or http to a loopback address.
	url *url.URL
	// token is the admin API token, sent as a bearer token.
	token string
}

// registerRemoteFlags adds the persistent flags of remote mode. Their environment variables
// are read when a command runs, not shown as defaults: --help must never print a token.
func (c *cli) registerRemoteFlags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.adminURL, "admin-url", "", "manage a running server through its admin API at this URL instead of the database "+
		"(https://…, or http:// to a loopback address; env "+envAdminURL+")")
	pf.StringVar(&c.adminTokenFile, "admin-token-file", "", "file holding the admin API token (env "+envAdminTokenFile+")")
	pf.StringVar(&c.adminToken, "admin-token", "", "admin API token (env "+envAdminToken+"; on the command line it is visible to "+
		"other local users and kept in the shell history: prefer --admin-token-file)")
}

// remoteSettings returns where the management commands go: nil means the database (no admin
// URL is set), else the checked admin API URL and token.
func (c *cli) remoteSettings(cmd *cobra.Command) (*remote, error) {
	flags := cmd.Flags()
	raw, from := c.adminURL, "--admin-url"
	if !flags.Changed("admin-url") {
		raw, from = lookupEnv(c.environ, envAdminURL), envAdminURL
	}
	if raw == "" {
		for _, name := range []string{"admin-token", "admin-token-file"} {
			if flags.Changed(name) {
				return nil, fmt.Errorf("--%s needs --admin-url (or %s): without it, commands work on the database directly", name, envAdminURL)
			}
		}
		return nil, nil
	}
	for _, name := range []string{"config", "data-dir", "database"} {
		if flags.Changed(name) {
			return nil, fmt.Errorf("--%s does not apply to the admin API (%s is set): the server uses its own configuration "+
				"and database; to work on a database directly, leave out the admin URL", name, from)
		}
	}
	u, err := parseAdminURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	tok, err := c.adminTokenValue(cmd)
	if err != nil {
		return nil, err
	}
	return &remote{url: u, token: tok}, nil
}

// parseAdminURL checks the admin API's base URL. The token travels with every request, so
// plain http is refused unless the server is on this machine (a loopback address).
func parseAdminURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", raw)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return nil, errors.New("the URL holds credentials: give the token with --admin-token-file or " + envAdminToken + " instead")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q has a query or fragment: give the base URL of the admin API only", u.Redacted())
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("refusing to send the admin token in clear text to %s: use https://, "+
			"or http:// only to a loopback address (127.0.0.1, [::1], localhost)", u.Host)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP address literal. Other
// names are not resolved: what a name resolves to can change between the check and the
// connection.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminTokenValue returns the admin API token: --admin-token-file, --admin-token,
// GATEHOUSE_ADMIN_TOKEN_FILE or GATEHOUSE_ADMIN_TOKEN, in this order (flags before the
// environment).
func (c *cli) adminTokenValue(cmd *cobra.Command) (string, error) {
	flags := cmd.Flags()
	switch {
	case flags.Changed("admin-token") && flags.Changed("admin-token-file"):
		return "", errors.New("--admin-token and --admin-token-file are mutually exclusive")
	case flags.Changed("admin-token-file"):
		return readTokenFile("--admin-token-file", c.adminTokenFile)
	case flags.Changed("admin-token"):
		fmt.Fprintln(c.stderr, "warning: a token on the command line can be seen by other users of this machine; prefer --admin-token-file")
		return checkToken("--admin-token", c.adminToken)
	}
	if path := lookupEnv(c.environ, envAdminTokenFile); path != "" {
		return readTokenFile(envAdminTokenFile, path)
	}
	if tok := lookupEnv(c.environ, envAdminToken); tok != "" {
		return checkToken(envAdminToken, tok)
	}
	return "", errors.New("the admin API needs a token: give it with --admin-token-file FILE or " + envAdminToken +
		" (make one on the server's host with: gatehouse admin-tokens create)")
}

// readTokenFile reads a token from the first line of a file.
func readTokenFile(from, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("%s: %s is too long to hold a token", from, path)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return checkToken(from+" "+path, line)
}

// checkToken trims white space around a token and refuses an empty one, or one that could not
// travel in an Authorization header.
func checkToken(from, tok string) (string, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%s: the token is empty", from)
	}
	for _, r := range tok {
		if r <= ' ' || r >= 0x7f {
			return "", fmt.Errorf("%s: the token holds a space or a character other than printable ASCII", from)
		}
	}
	return tok, nil
}
