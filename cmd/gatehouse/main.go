// Command gatehouse runs the Gatehouse authorization server and manages its clients, scopes,
// users and signing keys. Each command group lives in its own file; the logic lives in the packages.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func run() error {
	return newRootCmd(os.Stdout, os.Stderr).ExecuteContext(context.Background())
}
