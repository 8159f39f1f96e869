// Package importcheck enforces the import rules of DESIGN.md with `go list -deps`, so the
// layering cannot drift.
package importcheck

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gatehouse-auth/gatehouse"

// rules maps a package (relative to the module) to the imports it must not have, directly
// or indirectly. An entry ending in "/" forbids the whole tree.
var rules = map[string][]string{
	"config":           {module + "/"},
	"oauth":            {"database/sql", "html/template", module + "/ui", module + "/server", module + "/config", module + "/oidc", module + "/storage/sqlstore", "github.com/jackc/pgx/", "modernc.org/"},
	"oidc":             {module + "/server", module + "/ui", module + "/storage/sqlstore", "database/sql", "github.com/jackc/pgx/", "modernc.org/"},
	"token":            {module + "/", "database/sql"},
	"storage":          {module + "/oauth", "database/sql", "github.com/jackc/pgx/", "modernc.org/"},
	"storage/memory":   {module + "/oauth", module + "/server"},
	"storage/sqlstore": {module + "/oauth", module + "/server"},
	"admin":            {"github.com/spf13/cobra", module + "/server", module + "/storage/sqlstore"},
	"server":           {module + "/storage/sqlstore", "database/sql", "github.com/jackc/pgx/", "modernc.org/"},
	"bearer":           {module + "/"},
	"ui":               {module + "/"},
}

// directRules bans direct imports only: admin must not speak HTTP itself, although oauth
// (which it uses) takes status codes from net/http.
var directRules = map[string][]string{
	"admin": {"net/http"},
	"oauth": {"html/template"},
}

// allowedSelf lists module packages a package may import despite a tree-wide ban.
var allowedSelf = map[string][]string{
	"storage/memory":   {"storage"},
	"storage/sqlstore": {"storage"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var present = map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		present[strings.TrimPrefix(p.ImportPath, module+"/")] = true
	}
	for rel, banned := range rules {
		if !present[rel] {
			continue // not written yet
		}
		out, err := exec.Command("go", "list", "-json", module+"/"+rel).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", rel, err)
		}
		var p pkg
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			if slices.Contains(directRules[rel], imp) {
				t.Errorf("%s imports %s directly; DESIGN.md forbids it", rel, imp)
			}
		}
		for _, dep := range p.Deps {
			for _, ban := range banned {
				hit := dep == ban || (strings.HasSuffix(ban, "/") && strings.HasPrefix(dep, ban))
				if !hit {
					continue
				}
				if ok := isAllowed(rel, dep); ok {
					continue
				}
				t.Errorf("%s imports %s (directly or indirectly); DESIGN.md forbids %s", rel, dep, ban)
			}
		}
	}
}

func isAllowed(rel, dep string) bool {
	for _, a := range allowedSelf[rel] {
		if dep == module+"/"+a {
			return true
		}
	}
	return false
}
