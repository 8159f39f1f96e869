package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
)

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key"},
		Short:   "Inspect and rotate signing keys",
	}
	cmd.AddCommand(c.keysListCmd(), c.keysRotateCmd())
	return cmd
}

// keyView is a signing key as the CLI shows it: never its key material.
type keyView struct {
	ID        string    `json:"kid"`
	Algorithm string    `json:"algorithm"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	NotAfter  time.Time `json:"not_after,omitzero"`
}

func newKeyView(k admin.KeyInfo) keyView {
	v := keyView{ID: k.ID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt.UTC()}
	if !k.NotAfter.IsZero() {
		v.NotAfter = k.NotAfter.UTC()
	}
	return v
}

func (c *cli) keysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List signing keys (next, current, previous)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				keys, err := adm.ListKeys(ctx)
				if err != nil {
					return err
				}
				return printList(c, keys, newKeyView, "No signing keys yet: `gatehouse serve` creates them at its first start.",
					"KID\tALGORITHM\tSTATE\tCREATED\tNOT AFTER", func(k admin.KeyInfo) []string {
						return []string{k.ID, k.Algorithm, k.State, timeText(k.CreatedAt), timeText(k.NotAfter)}
					})
			})
		},
	}
}

func (c *cli) keysRotateCmd() *cobra.Command {
	var alg string
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Promote the next signing key to current; the old one stays published until its tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				cur, retain, err := adm.RotateKey(ctx, alg)
				if err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"current": newKeyView(cur), "retain": retain.String()})
				}
				_, err = fmt.Fprintf(c.stdout, "Rotated %s signing keys: %s is now current.\n"+
					"The previous key stays published for %s, until the tokens it signed have expired.\n", cur.Algorithm, cur.ID, retain)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", "", "algorithm whose keys to rotate, one the server signs with: keys.algorithm (the default) or keys.id_token_algorithm")
	return cmd
}
