// Command protected-api is a small API that accepts Gatehouse access tokens, using package
// bearer. GET /hello answers any valid token; GET /invoices needs the invoices:read scope.
// Both print the token's subject and scopes as JSON.
//
//	go run ./examples/protected-api -issuer http://127.0.0.1:8080
//
// Opaque access tokens need introspection credentials: -introspection-client-id and
// -introspection-client-secret, or INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET
// (better for the secret, which a flag shows to every user of ps).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse-auth/gatehouse/bearer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "protected-api:", err)
		stop()
		os.Exit(1)
	}
}

// options are the command line settings.
type options struct {
	issuer, audience, listen string
	clientID, clientSecret   string
}

// parseFlags reads the flags, with the introspection credentials defaulting to the environment.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("protected-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.issuer, "issuer", "http://127.0.0.1:8080", "issuer URL of the authorization server")
	fs.StringVar(&o.audience, "audience", "", "audience the tokens must carry (default: the issuer)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9090", "address to listen on")
	fs.StringVar(&o.clientID, "introspection-client-id", getenv("INTROSPECTION_CLIENT_ID"),
		"client id for introspecting opaque tokens (env INTROSPECTION_CLIENT_ID)")
	fs.StringVar(&o.clientSecret, "introspection-client-secret", getenv("INTROSPECTION_CLIENT_SECRET"),
		"client secret for introspecting opaque tokens (env INTROSPECTION_CLIENT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.audience == "" {
		o.audience = o.issuer
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	startCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	v, err := bearer.New(startCtx, bearer.Config{
		Issuer:                    o.issuer,
		Audience:                  o.audience,
		IntrospectionClientID:     o.clientID,
		IntrospectionClientSecret: o.clientSecret,
	})
	cancel()
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(v), ReadHeaderTimeout: 10 * time.Second}
	log.Info("protected API listening", "url", "http://"+ln.Addr().String(), "issuer", o.issuer, "audience", o.audience)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler is the API: every route checks the bearer token, /invoices also the scope.
func newHandler(v *bearer.Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /hello", v.Middleware(http.HandlerFunc(hello)))
	mux.Handle("GET /invoices", v.Middleware(bearer.RequireScope("invoices:read")(http.HandlerFunc(invoices))))
	return mux
}

// identity is what both routes print.
type identity struct {
	Subject  string   `json:"subject"`
	ClientID string   `json:"client_id,omitempty"`
	Scopes   []string `json:"scopes"`
}

func whoami(r *http.Request) identity {
	c, ok := bearer.FromContext(r.Context()) // set by v.Middleware
	if !ok || c.Scopes == nil {
		id := identity{Scopes: []string{}}
		if ok {
			id.Subject, id.ClientID = c.Subject, c.ClientID
		}
		return id
	}
	return identity{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes}
}

func hello(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		Message string `json:"message"`
		identity
	}{"hello", whoami(r)})
}

type invoice struct {
	ID     string `json:"id"`
	Amount string `json:"amount"`
}

func invoices(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, struct {
		identity
		Invoices []invoice `json:"invoices"`
	}{whoami(r), []invoice{{"INV-001", "120.00 EUR"}, {"INV-002", "75.50 EUR"}}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
