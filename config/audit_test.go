package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuditRetention(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        []string
		want       time.Duration
		problem    string
	}{
		{name: "default 90 days", want: 90 * 24 * time.Hour},
		{name: "days", yaml: "audit:\n  retention: 30d\n", want: 30 * 24 * time.Hour},
		{name: "zero keeps forever", yaml: "audit:\n  retention: 0s\n", want: 0},
		{name: "environment", env: []string{"GATEHOUSE_AUDIT_RETENTION=2160h"}, want: 2160 * time.Hour},
		{name: "environment overrides the file", yaml: "audit:\n  retention: 30d\n",
			env: []string{"GATEHOUSE_AUDIT_RETENTION=0s"}, want: 0},
		{name: "negative", yaml: "audit:\n  retention: -1h\n",
			problem: "gatehouse.yaml:2: audit.retention: must not be negative (0 keeps events forever), got -1h"},
		{name: "too short", yaml: "audit:\n  retention: 30s\n",
			problem: "gatehouse.yaml:2: audit.retention: must be 0 (forever) or at least 1m, got 30s"},
		{name: "bare number", yaml: "audit:\n  retention: 90\n",
			problem: `gatehouse.yaml:2: audit.retention: invalid duration "90"`},
		{name: "unknown key", yaml: "audit:\n  retension: 1d\n",
			problem: "gatehouse.yaml:2: audit.retension: unknown key (did you mean retention?)"},
		{name: "bad variable", env: []string{"GATEHOUSE_AUDIT_RETENTION=forever"},
			problem: `GATEHOUSE_AUDIT_RETENTION: invalid duration "forever"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("error %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Audit.Retention.Std(); got != tt.want {
				t.Errorf("retention %s, want %s", got, tt.want)
			}
		})
	}
}
