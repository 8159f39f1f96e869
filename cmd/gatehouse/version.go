package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3". When empty, the
// module version recorded in the binary is used.
var version string

// buildInfo describes the running binary.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	CommitAt  string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.CommitAt = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			b := readBuildInfo()
			if c.jsonOut {
				return c.printJSON(b)
			}
			line := "gatehouse " + b.Version
			if b.Commit != "" {
				commit := b.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				if b.Modified {
					commit += "-dirty"
				}
				line += " (" + commit
				if b.CommitAt != "" {
					line += ", " + b.CommitAt
				}
				line += ")"
			}
			_, err := fmt.Fprintf(c.stdout, "%s %s %s\n", line, b.GoVersion, b.Platform)
			return err
		},
	}
}
