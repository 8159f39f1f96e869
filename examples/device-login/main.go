// Command device-login signs a command-line program in with the OAuth 2.0 device
// authorization grant (RFC 8628) against Gatehouse, using golang.org/x/oauth2: it asks for a
// device code, tells you where to enter the user code, polls the token endpoint until you
// have approved (or denied) in a browser, and prints the token response.
//
//	go run ./examples/device-login -issuer http://127.0.0.1:8080 -client-id demo-device
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// config is what run needs.
type config struct {
	// Issuer is the Gatehouse base URL; the endpoints are Issuer + /oauth2/….
	Issuer   string
	ClientID string
	Scopes   []string
	// HTTPClient makes the requests; nil means a client with a 30-second timeout.
	HTTPClient *http.Client
}

func main() {
	if err := mainErr(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "device-login:", err)
		os.Exit(1)
	}
}

func mainErr(args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return run(ctx, cfg, out)
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("device-login", flag.ContinueOnError)
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "Gatehouse issuer URL")
	clientID := fs.String("client-id", "demo-device", "client ID of a client allowed the device_code grant")
	scope := fs.String("scope", "openid profile demo:read offline_access", "space-separated scopes to ask for")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *clientID == "" {
		return config{}, errors.New("-client-id is required")
	}
	return config{Issuer: strings.TrimSuffix(*issuer, "/"), ClientID: *clientID, Scopes: strings.Fields(*scope)}, nil
}

// oauth2Config is the x/oauth2 configuration of a public client: the client_id goes in the
// request body and there is no secret.
func oauth2Config(cfg config) *oauth2.Config {
	return &oauth2.Config{
		ClientID: cfg.ClientID,
		Scopes:   cfg.Scopes,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: cfg.Issuer + "/oauth2/device_authorization",
			TokenURL:      cfg.Issuer + "/oauth2/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
}

// run asks for a device code, prints where to enter the user code, waits for the user's
// decision and prints the tokens. It returns when the token arrives, the user denies, the
// code expires, or ctx ends.
func run(ctx context.Context, cfg config, out io.Writer) error {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	conf := oauth2Config(cfg)

	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("device authorization: %w", err)
	}
	fmt.Fprintf(out, "Open %s and enter %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(out, "  (or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintf(out, "Waiting for approval (the code expires at %s)...\n", da.Expiry.Format(time.Kitchen))

	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return fmt.Errorf("sign-in failed: %s: %s", re.ErrorCode, re.ErrorDescription)
		}
		return fmt.Errorf("sign-in failed: %w", err)
	}
	fmt.Fprintln(out, "Signed in.")
	fmt.Fprintf(out, "access_token: %s\n", tok.AccessToken)
	fmt.Fprintf(out, "token_type: %s\n", tok.Type())
	if scope, _ := tok.Extra("scope").(string); scope != "" {
		fmt.Fprintf(out, "scope: %s\n", scope)
	}
	if !tok.Expiry.IsZero() {
		fmt.Fprintf(out, "expiry: %s\n", tok.Expiry.Format(time.RFC3339))
	}
	if tok.RefreshToken != "" {
		fmt.Fprintf(out, "refresh_token: %s\n", tok.RefreshToken)
	}
	if id, _ := tok.Extra("id_token").(string); id != "" {
		fmt.Fprintf(out, "id_token: %s\n", id)
	}
	return nil
}
