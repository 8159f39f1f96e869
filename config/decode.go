package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// origin is where a key path was set: a file line or an environment variable.
type origin struct {
	file string
	line int
	env  string
}

// loader carries the state of one Load.
type loader struct {
	file     string
	origins  map[string]origin // key path -> where it was set
	bad      map[string]bool   // key paths whose value could not be decoded
	problems []Problem
}

var durationType = reflect.TypeFor[Duration]()

// maxDepth bounds recursion through aliases; the schema itself is four levels deep.
const maxDepth = 16

func valueOf(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

// yamlName is the key of a struct field, or "" for fields without a yaml tag.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// parentPath strips the last ".key" or "[i]" of a path; "" when there is none.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	default:
		return "an alias"
	}
}

func (l *loader) fileProblem(path string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
	l.bad[path] = true
}

// isBad reports whether path or one of its parents failed to decode.
func (l *loader) isBad(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if l.bad[p] {
			return true
		}
	}
	return false
}

// locate fills in where the key path of a validation problem was set: its own origin or its
// nearest parent's. Defaults have none.
func (l *loader) locate(p *Problem) {
	for path := p.Path; path != ""; path = parentPath(path) {
		if o, ok := l.origins[path]; ok {
			p.File, p.Line, p.Env = o.file, o.line, o.env
			return
		}
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError reports a YAML parse error as "file:line: message".
func (l *loader) syntaxError(err error) error {
	p := Problem{File: l.file, Message: err.Error()}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = m[2]
	}
	return &ValidationError{Problems: []Problem{p}}
}

// decode stores node n into v, which has one of the types of Config. line is where the key
// holding n was written (0 for the document root).
func (l *loader) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	for n.Kind == yaml.AliasNode && n.Alias != nil && depth < maxDepth {
		n = n.Alias
		depth++
	}
	if depth >= maxDepth || n.Kind == yaml.AliasNode {
		l.fileProblem(path, n.Line, "aliases nested too deeply")
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null leaves the value unset
	}
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			l.fileProblem(path, n.Line, "expected a duration such as 90s, 1h or 30d, got %s", nodeKind(n))
			return
		}
		d, err := parseDuration(n.Value)
		if err != nil {
			l.fileProblem(path, n.Line, "%v", err)
			return
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			l.fileProblem(path, n.Line, "expected a mapping, got %s", nodeKind(n))
			return
		}
		l.decodeMapping(n, v, path, depth)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.fileProblem(path, n.Line, "expected a list, got %s", nodeKind(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			l.origins[ip] = origin{file: l.file, line: item.Line}
			l.decode(item, s.Index(i), ip, depth+1)
		}
		v.Set(s)
	case n.Kind != yaml.ScalarNode:
		l.fileProblem(path, n.Line, "expected a single value, got %s", nodeKind(n))
	case v.Kind() == reflect.String:
		v.SetString(n.Value)
	case v.Kind() == reflect.Bool:
		b, err := parseBool(n.Value)
		if err != nil {
			l.fileProblem(path, n.Line, "expected true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			l.fileProblem(path, n.Line, "expected an integer, got %q", n.Value)
			return
		}
		v.SetInt(i)
	default:
		// Unreachable for Config's types; TestEnvTable keeps the two lists in step.
		l.fileProblem(path, n.Line, "unsupported type %s", v.Type())
	}
}

// decodeMapping decodes a mapping into struct v, refusing unknown and repeated keys. Merge keys
// ("<<: *anchor") are applied first, so keys written explicitly override them.
func (l *loader) decodeMapping(n *yaml.Node, v reflect.Value, path string, depth int) {
	fields := map[string]int{}
	var names []string
	for i := range v.NumField() {
		if name := yamlName(v.Type().Field(i)); name != "" {
			fields[name] = i
			names = append(names, name)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.ShortTag() != "!!merge" {
			continue
		}
		for val.Kind == yaml.AliasNode && val.Alias != nil {
			val = val.Alias
		}
		merges := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			merges = val.Content
		}
		for _, m := range merges {
			for m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				l.fileProblem(path, k.Line, "<< must merge a mapping, got %s", nodeKind(m))
				continue
			}
			l.decode(m, v, path, depth+1)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			continue
		}
		kp := joinPath(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			msg := "unknown key"
			if s := suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			l.fileProblem(kp, k.Line, "%s", msg)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.fileProblem(kp, k.Line, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		if val.ShortTag() == "!!null" && val.Kind == yaml.ScalarNode {
			continue // "key:" with no value is the same as leaving the key out
		}
		l.origins[kp] = origin{file: l.file, line: k.Line}
		l.decode(val, v.Field(idx), kp, depth+1)
	}
}

func parseBool(s string) (bool, error) {
	switch s {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// envField is one scalar key that an environment variable can set.
type envField struct {
	name  string // GATEHOUSE_KEYS_ALGORITHM
	path  string // keys.algorithm
	index []int  // for reflect.Value.FieldByIndex
	typ   reflect.Type
}

// envTable derives the environment variables from Config's yaml tags: every string, bool,
// int64, Duration and []string key, at any depth. Lists of structs (the declarations) are
// returned separately: they are file-only.
func envTable() (fields []envField, decls []string) {
	var walk func(t reflect.Type, path string, index []int)
	walk = func(t reflect.Type, path string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			p := joinPath(path, name)
			idx := append(append([]int(nil), index...), i)
			switch {
			case f.Type == durationType:
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, p, idx)
				continue
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				decls = append(decls, p)
				continue
			}
			env := envPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(p))
			fields = append(fields, envField{name: env, path: p, index: idx, typ: f.Type})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return fields, decls
}

// applyEnv sets the keys named by GATEHOUSE_* variables and reports unknown or invalid ones.
func (l *loader) applyEnv(c *Config, env []string) {
	fields, decls := envTable()
	byName := map[string]envField{}
	var known []string
	for _, f := range fields {
		byName[f.name] = f
		known = append(known, f.name)
	}
	vals := map[string]string{}
	var names []string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, envPrefix) {
			continue
		}
		if _, dup := vals[k]; dup {
			continue // the first occurrence wins, as with os.Getenv
		}
		vals[k] = v
		names = append(names, k)
	}
	sort.Strings(names)
	root := valueOf(c)
	for _, name := range names {
		val := vals[name]
		f, ok := byName[name]
		switch {
		case envAllowed(name):
			continue
		case !ok:
			msg := "unknown variable"
			for _, d := range decls {
				if dn := envPrefix + strings.ToUpper(d); name == dn || strings.HasPrefix(name, dn+"_") {
					msg = "scopes, clients and users can only be declared in the configuration file"
				}
			}
			if msg == "unknown variable" {
				if s := suggest(name, known); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", s)
				}
			}
			l.problems = append(l.problems, Problem{Env: name, Message: msg})
			continue
		case val == "":
			continue // empty variables are ignored
		}
		if err := setFromEnv(root.FieldByIndex(f.index), val); err != nil {
			l.problems = append(l.problems, Problem{Env: name, Path: f.path, Message: err.Error()})
			l.bad[f.path] = true
			continue
		}
		l.origins[f.path] = origin{env: name}
	}
}

// setFromEnv parses an environment value into v. Lists are comma-separated, with spaces around
// items and empty items dropped.
func setFromEnv(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("expected true or false, got %q", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", s)
		}
		v.SetInt(i)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// suggest returns the candidate closest to s if it is close enough to be a likely typo: at most
// three edits, and at most one per three characters.
func suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > 3 || bestDist*3 > len(s) {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b (bytes): insertions,
// deletions, substitutions and transpositions of neighbours each count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
