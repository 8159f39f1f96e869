package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "migrate",
		Short:       "Bring the database schema up to date",
		Long:        "Apply the pending database migrations and print the schema version. `gatehouse serve` does\nthe same at start unless it runs with --no-migrate.",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotVerbose: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			// openStore migrates (the migrate command has no --no-migrate flag).
			s, err := c.openStore(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			v, err := s.store.Version(cmd.Context())
			if err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"version": v, "dialect": s.store.Dialect()})
			}
			_, err = fmt.Fprintf(c.stdout, "Database schema is at version %d (%s).\n", v, s.store.Dialect())
			return err
		},
	}
}
