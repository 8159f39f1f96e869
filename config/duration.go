package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that reads and writes as text: "90s", "15m", "1h", "1h30m", and
// also "30d" or "1d12h" (d is 24 hours, and must come first). A bare number is refused, so that
// a missing unit is never mistaken for nanoseconds or seconds.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d the way it is written in the configuration: whole days as "30d", otherwise
// time.Duration's form without trailing zero units ("1h", "90s", "1h30m").
func (d Duration) String() string {
	const day = 24 * time.Hour
	td := time.Duration(d)
	if td > 0 && td%day == 0 {
		return strconv.FormatInt(int64(td/day), 10) + "d"
	}
	s := td.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText writes d as String does, so durations read back the same in YAML, JSON and logs.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration as described on Duration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML parses a scalar node as described on Duration.
func (d *Duration) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration, got %s", value.Line, nodeKind(value))
	}
	return d.UnmarshalText([]byte(value.Value))
}

// parseDuration accepts time.ParseDuration's syntax plus a leading whole number of days ("30d",
// "1d12h", "-1d").
func parseDuration(s string) (time.Duration, error) {
	const day = 24 * time.Hour
	invalid := fmt.Errorf("invalid duration %q", s)
	t := strings.TrimSpace(s)
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" || t[0] == '-' || t[0] == '+' {
		return 0, invalid
	}
	var total time.Duration
	if i := strings.IndexByte(t, 'd'); i >= 0 {
		n, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil || n < 0 || n > int64((1<<63-1)/day) {
			return 0, invalid
		}
		total = time.Duration(n) * day
		t = t[i+1:]
	}
	if t != "" {
		if t[0] == '-' || t[0] == '+' {
			return 0, invalid
		}
		rest, err := time.ParseDuration(t)
		if err != nil || total > (1<<63-1)-rest {
			return 0, invalid
		}
		total += rest
	}
	if neg {
		total = -total
	}
	return total, nil
}
