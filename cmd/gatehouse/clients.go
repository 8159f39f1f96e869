package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func (c *cli) clientsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "clients",
		Aliases: []string{"client"},
		Short:   "Manage OAuth clients",
	}
	cmd.AddCommand(c.clientsCreateCmd(), c.clientsListCmd(), c.clientsGetCmd(), c.clientsUpdateCmd(),
		c.clientsDeleteCmd(), c.clientsRotateSecretCmd())
	return cmd
}

// clientFlags are the flags of clients create and clients update.
type clientFlags struct {
	id, name, tokenFormat string
	grants, scopes        []string
	redirects, logouts    []string
	public, trusted       bool
}

func (f *clientFlags) register(fs *pflag.FlagSet, create bool) {
	if create {
		fs.StringVar(&f.id, "id", "", "client id (default: generated from the name)")
	}
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringSliceVar(&f.grants, "grant", nil, "grant type, repeatable or a comma/space separated list: "+
		strings.Join(admin.GrantTypes(), ", ")+` ("device_code" for short)`)
	fs.StringSliceVar(&f.scopes, "scope", nil, `scopes the client may request ("a b", a,b or repeated)`)
	fs.StringArrayVar(&f.redirects, "redirect-uri", nil, "redirect URI, repeatable")
	fs.StringArrayVar(&f.logouts, "post-logout-redirect-uri", nil, "post-logout redirect URI, repeatable")
	fs.BoolVar(&f.public, "public", false, "public client (browser or native app): no secret")
	fs.BoolVar(&f.trusted, "trusted", false, "first-party client: skips the consent page")
	fs.StringVar(&f.tokenFormat, "token-format", "", "access token format: jwt (default) or opaque")
}

func (c *cli) clientsCreateCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client; a confidential client's secret is printed once",
		Example: `  gatehouse clients create --name "Billing service" --grant client_credentials --scope "invoices:read"
  gatehouse clients create --name "Web app" --public --grant authorization_code,refresh_token \
      --redirect-uri https://app.example.com/callback`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := admin.ClientInput{
				ID: f.id, Name: f.name, Public: f.public, Trusted: f.trusted,
				GrantTypes: splitList(f.grants), Scopes: splitList(f.scopes),
				RedirectURIs: f.redirects, PostLogoutRedirectURIs: f.logouts, TokenFormat: f.tokenFormat,
			}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				client, secret, err := adm.CreateClient(ctx, in)
				if err != nil {
					return err
				}
				return c.printClientWithSecret(client, secret, "Created client "+client.ID+".")
			})
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

func (c *cli) clientsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List clients",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				list, err := adm.ListClients(ctx)
				if err != nil {
					return err
				}
				return printList(c, list, newClientView, "No clients. Create one with: gatehouse clients create --help",
					"ID\tNAME\tTYPE\tGRANT TYPES\tSCOPES\tFORMAT", func(cl storage.Client) []string {
						return []string{cl.ID, cl.Name, clientType(cl), orDash(strings.Join(cl.GrantTypes, ",")),
							orDash(strings.Join(cl.Scopes, " ")), cl.TokenFormat}
					})
			})
		},
	}
}

func (c *cli) clientsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				client, err := adm.GetClient(ctx, args[0])
				if err != nil {
					return err
				}
				return c.printClient(client)
			})
		},
	}
}

func (c *cli) clientsUpdateCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a client; list flags replace the whole list",
		Example: `  gatehouse clients update billing-x1y2 --scope "invoices:read invoices:write"
  gatehouse clients update web-app --redirect-uri https://a.example/cb --redirect-uri https://b.example/cb`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			patch := f.patch(cmd.Flags())
			if patch.Empty() {
				return errNothingToUpdate
			}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				client, secret, err := adm.UpdateClient(ctx, args[0], patch)
				if err != nil {
					return err
				}
				if client.Declared {
					fmt.Fprintf(c.stderr, "note: client %s is declared in the configuration file, which is applied again at the next start\n", client.ID)
				}
				return c.printClientWithSecret(client, secret, "Updated client "+client.ID+".")
			})
		},
	}
	f.register(cmd.Flags(), false)
	return cmd
}

// patch builds a ClientPatch from the flags that were set.
func (f *clientFlags) patch(fs *pflag.FlagSet) admin.ClientPatch {
	var p admin.ClientPatch
	changed := fs.Changed
	if changed("name") {
		p.Name = &f.name
	}
	if changed("public") {
		p.Public = &f.public
	}
	if changed("trusted") {
		p.Trusted = &f.trusted
	}
	if changed("token-format") {
		p.TokenFormat = &f.tokenFormat
	}
	list := func(name string, v []string, split bool) *[]string {
		if !changed(name) {
			return nil
		}
		if split {
			v = splitList(v)
		}
		return &v
	}
	p.GrantTypes = list("grant", f.grants, true)
	p.Scopes = list("scope", f.scopes, true)
	p.RedirectURIs = list("redirect-uri", f.redirects, false)
	p.PostLogoutRedirectURIs = list("post-logout-redirect-uri", f.logouts, false)
	return p
}

func (c *cli) clientsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"rm"},
		Short:   "Delete a client and revoke its tokens",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				if err := adm.DeleteClient(ctx, args[0]); err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"id": args[0], "deleted": true})
				}
				_, err := fmt.Fprintf(c.stdout, "Deleted client %s.\n", args[0])
				return err
			})
		},
	}
}

func (c *cli) clientsRotateSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Replace a confidential client's secret; the new one is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				secret, err := adm.RotateSecret(ctx, args[0])
				if err != nil {
					return err
				}
				if c.jsonOut {
					fmt.Fprintln(c.stderr, secretNote)
					return c.printJSON(map[string]string{"id": args[0], "client_secret": secret})
				}
				_, err = fmt.Fprintf(c.stdout, "Rotated the secret of client %s. The old secret no longer works.\n\nClient secret: %s\n%s\n",
					args[0], secret, secretNote)
				return err
			})
		},
	}
}

const secretNote = "Store the client secret now: it will not be shown again."

// clientView is a client as the CLI shows it: never with its secret hash.
type clientView struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	Trusted                bool      `json:"trusted"`
	GrantTypes             []string  `json:"grant_types"`
	Scopes                 []string  `json:"scopes"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	TokenFormat            string    `json:"token_format"`
	Declared               bool      `json:"declared"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
	// ClientSecret is set only right after the secret was generated.
	ClientSecret string `json:"client_secret,omitempty"`
}

func newClientView(cl storage.Client) clientView {
	return clientView{
		ID: cl.ID, Name: cl.Name, Public: cl.Public, Trusted: cl.Trusted,
		GrantTypes: nonNil(cl.GrantTypes), Scopes: nonNil(cl.Scopes),
		RedirectURIs: nonNil(cl.RedirectURIs), PostLogoutRedirectURIs: nonNil(cl.PostLogoutRedirectURIs),
		TokenFormat: cl.TokenFormat, Declared: cl.Declared,
		CreatedAt: cl.CreatedAt.UTC(), UpdatedAt: cl.UpdatedAt.UTC(),
	}
}

func clientType(cl storage.Client) string {
	if cl.Public {
		return "public"
	}
	return "confidential"
}

// printClient shows one client.
func (c *cli) printClient(cl storage.Client) error {
	if c.jsonOut {
		return c.printJSON(newClientView(cl))
	}
	return writeClient(c.stdout, cl)
}

// printClientWithSecret shows a client after a change, with its new secret if one was made.
func (c *cli) printClientWithSecret(cl storage.Client, secret, headline string) error {
	v := newClientView(cl)
	v.ClientSecret = secret
	return c.printChanged(v, func(w io.Writer) error { return writeClient(w, cl) }, headline, "Client secret", secret, secretNote)
}

func writeClient(w io.Writer, cl storage.Client) error {
	tw := tabwriterFor(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	rows := func(k string, vs []string) {
		if len(vs) == 0 {
			row(k, "-")
			return
		}
		for i, v := range vs {
			if i == 0 {
				row(k, v)
			} else {
				fmt.Fprintf(tw, "\t%s\n", v)
			}
		}
	}
	row("ID", cl.ID)
	row("Name", cl.Name)
	row("Type", clientType(cl))
	row("Trusted", yesNo(cl.Trusted))
	row("Grant types", orDash(strings.Join(cl.GrantTypes, " ")))
	row("Scopes", orDash(strings.Join(cl.Scopes, " ")))
	rows("Redirect URIs", cl.RedirectURIs)
	rows("Post-logout URIs", cl.PostLogoutRedirectURIs)
	row("Token format", cl.TokenFormat)
	row("Declared", yesNo(cl.Declared))
	row("Created", timeText(cl.CreatedAt))
	row("Updated", timeText(cl.UpdatedAt))
	return tw.Flush()
}
