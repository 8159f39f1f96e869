package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func (c *cli) scopesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "scopes",
		Aliases: []string{"scope"},
		Short:   "Manage the scope catalogue",
	}
	cmd.AddCommand(c.scopesCreateCmd(), c.scopesListCmd(), c.scopesUpdateCmd(), c.scopesDeleteCmd())
	return cmd
}

// scopeView is a scope as the CLI prints it in JSON.
type scopeView struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Default     bool      `json:"default"`
	CreatedAt   time.Time `json:"created_at"`
}

func newScopeView(s storage.Scope) scopeView {
	return scopeView{Name: s.Name, Description: s.Description, Default: s.Default, CreatedAt: s.CreatedAt.UTC()}
}

func (c *cli) printScope(headline string, s storage.Scope) error {
	if c.jsonOut {
		return c.printJSON(newScopeView(s))
	}
	_, err := fmt.Fprintf(c.stdout, "%s %s (default: %s)\n", headline, s.Name, yesNo(s.Default))
	return err
}

func (c *cli) scopesCreateCmd() *cobra.Command {
	var in admin.ScopeInput
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Add a scope",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[0]
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				s, err := adm.CreateScope(ctx, in)
				if err != nil {
					return err
				}
				return c.printScope("Created scope", s)
			})
		},
	}
	cmd.Flags().StringVar(&in.Description, "description", "", "what the scope allows, shown on the consent page")
	cmd.Flags().BoolVar(&in.Default, "default", false, "grant the scope when a request names none")
	return cmd
}

func (c *cli) scopesListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List scopes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				list, err := adm.ListScopes(ctx)
				if err != nil {
					return err
				}
				return printList(c, list, newScopeView, "No scopes. Create one with: gatehouse scopes create NAME",
					"NAME\tDEFAULT\tDESCRIPTION", func(s storage.Scope) []string {
						return []string{s.Name, yesNo(s.Default), orDash(s.Description)}
					})
			})
		},
	}
}

func (c *cli) scopesUpdateCmd() *cobra.Command {
	var (
		description string
		def         bool
	)
	cmd := &cobra.Command{
		Use:     "update NAME",
		Short:   "Change a scope's description or default flag",
		Example: "  gatehouse scopes update profile --default=false",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var patch admin.ScopePatch
			if cmd.Flags().Changed("description") {
				patch.Description = &description
			}
			if cmd.Flags().Changed("default") {
				patch.Default = &def
			}
			if patch == (admin.ScopePatch{}) {
				return errNothingToUpdate
			}
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				s, err := adm.UpdateScope(ctx, args[0], patch)
				if err != nil {
					return err
				}
				return c.printScope("Updated scope", s)
			})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "new description")
	cmd.Flags().BoolVar(&def, "default", false, "grant the scope when a request names none (--default=false to stop)")
	return cmd
}

func (c *cli) scopesDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a scope no client is allowed",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(ctx context.Context, adm manager) error {
				if err := adm.DeleteScope(ctx, args[0]); err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(map[string]any{"name": args[0], "deleted": true})
				}
				_, err := fmt.Fprintf(c.stdout, "Deleted scope %s.\n", args[0])
				return err
			})
		},
	}
}
