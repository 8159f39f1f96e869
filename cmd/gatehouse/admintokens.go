package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func (c *cli) adminTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "admin-tokens",
		Aliases: []string{"admin-token"},
		Short:   "Manage the bearer tokens of the admin API",
		Long: "Manage admin API tokens: bearer tokens (ghm_…) for scripts and the CLI's --admin-url mode to call\n" +
			"the admin API on the admin listener. Whoever holds one may do everything the admin API offers.\n" +
			"The value is printed once; only its SHA-256 hash is stored. These commands work on the\n" +
			"database directly.",
	}
	cmd.AddCommand(c.adminTokensCreateCmd(), c.adminTokensListCmd(), c.adminTokensRevokeCmd())
	return cmd
}

func (c *cli) adminTokensCreateCmd() *cobra.Command {
	var name, expires string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Make an admin API token; its value is printed once",
		Example: `  gatehouse admin-tokens create --name terraform
  gatehouse admin-tokens create --name ci --expires 90d --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lifetime, err := parseAdminTokenLifetime(expires)
			if err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			return c.withAdmin(cmd, func(ctx context.Context, _ *session, adm *admin.Admin) error {
				t, value, err := adm.CreateAdminToken(ctx, admin.AdminTokenInput{Name: name, Lifetime: lifetime})
				if err != nil {
					return err
				}
				v := newAdminTokenView(t)
				v.Token = value
				return c.printChanged(v, func(w io.Writer) error { return writeAdminToken(w, t) },
					fmt.Sprintf("Created admin token %q (ID %s).", t.Name, t.ID), "Token", value, adminTokenNote)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&name, "name", "", "what the token is for (1 to 100 characters)")
	fs.StringVar(&expires, "expires", "never", `lifetime: days ("90d"), a Go duration ("720h"), or "never"`)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (c *cli) adminTokensListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the admin API tokens (never their values)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(ctx context.Context, _ *session, adm *admin.Admin) error {
				list, err := adm.ListAdminTokens(ctx)
				if err != nil {
					return err
				}
				return printList(c, list, newAdminTokenView, "No admin tokens. Create one with: gatehouse admin-tokens create --name NAME",
					"ID\tNAME\tCREATED BY\tCREATED\tEXPIRES\tLAST USED", func(t storage.AdminToken) []string {
						return []string{t.ID, t.Name, t.CreatedBy, timeText(t.CreatedAt), expiresText(t.ExpiresAt), timeText(t.LastUsedAt)}
					})
			})
		},
	}
}

func (c *cli) adminTokensRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "revoke ID",
		Aliases: []string{"delete"},
		Short:   "Revoke an admin API token; it stops working at once",
		Example: `  gatehouse admin-tokens revoke 3q2-7wEAAAAAAAAAAAAAAA`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAdmin(cmd, func(ctx context.Context, _ *session, adm *admin.Admin) error {
				if err := adm.RevokeAdminToken(ctx, args[0]); err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"id": args[0], "revoked": true})
				}
				_, err := fmt.Fprintf(c.stdout, "Revoked admin token %s.\n", args[0])
				return err
			})
		},
	}
}

const adminTokenNote = "Store the token now (for example in a secret manager): it will not be shown again."

// parseAdminTokenLifetime reads "never" (or "0") as no expiry, else like parseLifetime.
func parseAdminTokenLifetime(s string) (time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "never", "0", "":
		return 0, nil
	}
	d, err := parseLifetime(s)
	if err != nil {
		return 0, errors.New(`give days ("90d"), a positive duration ("720h") or "never"`)
	}
	return d, nil
}

func expiresText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return timeText(t)
}

// adminTokenView is an admin token as the CLI shows it: never with its hash.
type adminTokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Token is set only right after the token was made.
	Token string `json:"token,omitempty"`
}

func newAdminTokenView(t storage.AdminToken) adminTokenView {
	v := adminTokenView{ID: t.ID, Name: t.Name, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC()}
	if !t.ExpiresAt.IsZero() {
		at := t.ExpiresAt.UTC()
		v.ExpiresAt = &at
	}
	if !t.LastUsedAt.IsZero() {
		at := t.LastUsedAt.UTC()
		v.LastUsedAt = &at
	}
	return v
}

func writeAdminToken(w io.Writer, t storage.AdminToken) error {
	tw := tabwriterFor(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("ID", t.ID)
	row("Name", t.Name)
	row("Created by", t.CreatedBy)
	row("Created", timeText(t.CreatedAt))
	row("Expires", expiresText(t.ExpiresAt))
	return tw.Flush()
}

// ensureAdminScope creates the gatehouse:admin scope (not a default scope) unless it exists,
// so an operator can allow it to a client that automates through the admin API.
func ensureAdminScope(ctx context.Context, adm *admin.Admin) error {
	_, err := adm.GetScope(ctx, adminapi.AdminScope)
	if err == nil {
		return nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("check the %s scope: %w", adminapi.AdminScope, err)
	}
	_, err = adm.CreateScope(ctx, admin.ScopeInput{Name: adminapi.AdminScope,
		Description: "Manage Gatehouse through the admin API (clients, users, tokens, keys)"})
	if err != nil && !errors.Is(err, storage.ErrConflict) { // another node made it first
		return fmt.Errorf("create the %s scope: %w", adminapi.AdminScope, err)
	}
	return nil
}
