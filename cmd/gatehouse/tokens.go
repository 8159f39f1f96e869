package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func (c *cli) tokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Manage users' personal access tokens",
		Long: "Manage personal access tokens: opaque bearer tokens (ghp_…) that a user makes for scripts and\n" +
			"tools, as on the account page. They carry scopes of the catalogue, expire (at most after 365\n" +
			"days) and introspect with token_use \"personal_access_token\". Their value is shown once.",
	}
	cmd.AddCommand(c.tokensCreateCmd(), c.tokensListCmd(), c.tokensRevokeCmd())
	return cmd
}

func (c *cli) tokensCreateCmd() *cobra.Command {
	var (
		user, name, expires string
		scopes              []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Make a personal access token for a user; its value is printed once",
		Example: `  gatehouse tokens create --user alice --name ci --scope "api:read" --expires 30d
  gatehouse tokens create --user alice --name deploy --scope api:read,api:write --expires 90d --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lifetime, err := parseLifetime(expires)
			if err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			in := admin.PersonalTokenInput{User: user, Name: name, Scopes: splitList(scopes), Lifetime: lifetime}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				t, value, err := adm.CreatePersonalToken(ctx, in)
				if err != nil {
					return err
				}
				v := newTokenView(t)
				v.Token = value
				return c.printChanged(v, func(w io.Writer) error { return writeToken(w, t) },
					fmt.Sprintf("Created personal access token %q (ID %s) for user %s.", t.Name, t.ID, user), "Token", value, tokenNote)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&user, "user", "", "the user's ID or username")
	fs.StringVar(&name, "name", "", "a name for the token (1 to 100 characters)")
	fs.StringSliceVar(&scopes, "scope", nil, `scopes of the catalogue ("a b", a,b or repeated)`)
	fs.StringVar(&expires, "expires", "30d", `lifetime: days ("30d") or a Go duration ("720h"), at most 365d`)
	_ = cmd.MarkFlagRequired("user")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("scope")
	return cmd
}

func (c *cli) tokensListCmd() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List a user's active personal access tokens",
		Example: `  gatehouse tokens list --user alice`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				list, err := adm.ListPersonalTokens(ctx, user)
				if err != nil {
					return err
				}
				// Oldest first; tokens made in the same second (creation times are whole
				// seconds) by name, so the order does not depend on their random IDs.
				slices.SortStableFunc(list, func(a, b storage.Token) int {
					return cmp.Or(a.IssuedAt.Compare(b.IssuedAt), strings.Compare(a.Name, b.Name))
				})
				return printList(c, list, newTokenView, "No personal access tokens. Create one with: gatehouse tokens create --help",
					"ID\tNAME\tSCOPES\tCREATED\tEXPIRES\tLAST USED", func(t storage.Token) []string {
						return []string{t.ID, t.Name, strings.Join(t.Scopes, ","), timeText(t.IssuedAt), timeText(t.ExpiresAt),
							timeText(t.LastUsedAt)}
					})
			})
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user's ID or username")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

func (c *cli) tokensRevokeCmd() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a personal access token",
		Long: "Revoke a personal access token by the ID that tokens list shows. With --user only that user's\n" +
			"tokens are searched; without it, every user's.",
		Example: `  gatehouse tokens revoke 3q2-7wEAAAAAAAAAAAAAAA --user alice`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				t, err := adm.RevokePersonalToken(ctx, user, args[0])
				if err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"id": t.ID, "name": t.Name, "user_id": t.Subject, "revoked": true})
				}
				_, err = fmt.Fprintf(c.stdout, "Revoked personal access token %q (ID %s) of user %s.\n", t.Name, t.ID, t.Subject)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user's ID or username (default: search every user)")
	return cmd
}

const tokenNote = "Give the token to its user now: it will not be shown again."

// parseLifetime reads "30d" (whole days) or a Go duration such as "720h".
func parseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a number of days such as 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New(`give days ("30d") or a positive duration ("720h")`)
	}
	return d, nil
}

// tokenView is a personal access token as the CLI shows it: never with its hash.
type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	UserID     string     `json:"user_id"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Token is set only right after the token was made.
	Token string `json:"token,omitempty"`
}

func newTokenView(t storage.Token) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, UserID: t.Subject, Scopes: nonNil(t.Scopes), CreatedAt: t.IssuedAt.UTC(),
		ExpiresAt: t.ExpiresAt.UTC()}
	if !t.LastUsedAt.IsZero() {
		at := t.LastUsedAt.UTC()
		v.LastUsedAt = &at
	}
	return v
}

func writeToken(w io.Writer, t storage.Token) error {
	tw := tabwriterFor(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("ID", t.ID)
	row("Name", t.Name)
	row("User ID", t.Subject)
	row("Scopes", orDash(strings.Join(t.Scopes, " ")))
	row("Created", timeText(t.IssuedAt))
	row("Expires", timeText(t.ExpiresAt))
	row("Last used", timeText(t.LastUsedAt))
	return tw.Flush()
}
