package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/config"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/demo"
	"github.com/gatehouse-auth/gatehouse/token"
)

// demoSeed is what serve --demo made sure exists: the secrets of its clients and the password
// of its user, each kept in a file of the data directory so that every start prints the same.
type demoSeed struct {
	machineSecret string
	webSecret     string
	userPassword  string
}

// seedDemo makes sure the demo scope, clients and user exist. They are applied like declared
// ones, so a secret or password changed in the database is put back, and a new issuer moves
// the demo web client's redirect URIs.
func seedDemo(ctx context.Context, adm *admin.Admin, cfg config.Config, log *slog.Logger) (*demoSeed, error) {
	isSecret := func(s string) bool { return token.CheckOpaque(s, token.PrefixClientSecret) }
	var (
		seed demoSeed
		err  error
	)
	if seed.machineSecret, err = keptValue(cfg, demoSecretFile, "demo client secret", isSecret, token.NewClientSecret, log); err != nil {
		return nil, err
	}
	if seed.webSecret, err = keptValue(cfg, demoWebSecretFile, "demo web client secret", isSecret, token.NewClientSecret, log); err != nil {
		return nil, err
	}
	if seed.userPassword, err = keptValue(cfg, demoPasswordFile, "demo user password", demoPasswordOK, admin.NewPassword, log); err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(cfg.Issuer, "/")
	_, err = adm.ApplyDeclared(ctx, admin.Declarations{
		Scopes: []admin.ScopeDecl{{Name: demoScope, Description: "Demo scope of gatehouse serve --demo", Default: true}},
		Clients: []admin.ClientDecl{{
			ID: demoClientID, Name: "Demo machine client", SecretHash: token.HashGeneratedSecret(seed.machineSecret),
			GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{demoScope},
		}, {
			ID: demoWebClientID, Name: "Gatehouse demo", SecretHash: token.HashGeneratedSecret(seed.webSecret),
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, Scopes: demoWebScopes,
			RedirectURIs:           []string{base + demoPath + "callback"},
			PostLogoutRedirectURIs: []string{base + demoPath},
		}, {
			ID: demoDeviceClientID, Name: "Gatehouse device demo", Public: true,
			GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}, Scopes: demoDeviceScopes,
		}},
		Users: []admin.UserDecl{{Username: demoUsername, Password: seed.userPassword, Email: "demo@example.com", Name: "Demo User"}},
	})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return &seed, nil
}

// demoPasswordOK accepts a demo password file's content: what admin accepts, on one line.
func demoPasswordOK(s string) bool {
	n := len([]rune(s))
	return n >= admin.MinPasswordLen && len(s) <= admin.MaxPasswordLen && !strings.ContainsFunc(s, unicode.IsControl)
}

// keptValue returns the value kept in the data directory file name, or generates one and
// writes it there (mode 0600). A damaged file is replaced with a warning.
func keptValue(cfg config.Config, name, what string, valid func(string) bool, generate func() (string, error), log *slog.Logger) (string, error) {
	path := filepath.Join(cfg.DataDir, name)
	switch data, err := os.ReadFile(path); {
	case err == nil:
		v := strings.TrimSpace(string(data))
		if valid(v) {
			return v, nil
		}
		log.Warn("the "+what+" file is damaged; generating a new one", "path", path)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	v, err := generate()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", what, err)
	}
	// WriteFile keeps the mode of an existing file.
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", what, err)
	}
	return v, nil
}

// demoHandler is the demo relying party, a client of this very server reached over its
// public URL.
func demoHandler(issuer string, seed *demoSeed, log *slog.Logger) http.Handler {
	base := strings.TrimSuffix(issuer, "/")
	return demo.New(demo.Config{
		Issuer: issuer, ClientID: demoWebClientID, ClientSecret: seed.webSecret,
		RedirectURL: base + demoPath + "callback", Scopes: demoWebScopes,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Logger: log,
	})
}
