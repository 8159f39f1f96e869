package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

var timeType = reflect.TypeFor[time.Time]()

// diff lists how got differs from want under the suite's equality (see the package
// comment): times by instant, with got's in UTC; nil and empty slices and maps equal. Each
// line names the field.
func diff(name string, got, want any) []string {
	var out []string
	diffValue(&out, name, reflect.ValueOf(got), reflect.ValueOf(want))
	return out
}

func diffValue(out *[]string, path string, g, w reflect.Value) {
	add := func(format string, args ...any) {
		*out = append(*out, path+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case g.Type() == timeType:
		gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
		if !gt.Equal(wt) {
			add("got %s, want %s (%s)", fmtTime(gt), fmtTime(wt.UTC()), fmtTime(wt))
		}
		if gt.Location() != time.UTC {
			add("got location %q, want time.UTC", gt.Location())
		}
	case g.Kind() == reflect.Struct:
		for i := range g.NumField() {
			if f := g.Type().Field(i); f.IsExported() {
				diffValue(out, path+"."+f.Name, g.Field(i), w.Field(i))
			}
		}
	case g.Kind() == reflect.Slice && g.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(g.Bytes(), w.Bytes()) {
			add("got %x, want %x", g.Bytes(), w.Bytes())
		}
	case g.Kind() == reflect.Slice:
		if g.Len() != w.Len() {
			add("got %q, want %q", g.Interface(), w.Interface())
			return
		}
		for i := range g.Len() {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i))
		}
	case g.Kind() == reflect.Map:
		if g.Len() != w.Len() {
			add("got %q, want %q", g.Interface(), w.Interface())
			return
		}
		for _, k := range w.MapKeys() {
			gv := g.MapIndex(k)
			if !gv.IsValid() {
				add("got %q, want %q", g.Interface(), w.Interface())
				return
			}
			diffValue(out, fmt.Sprintf("%s[%q]", path, k.Interface()), gv, w.MapIndex(k))
		}
	default:
		if !g.Equal(w) {
			add("got %#v, want %#v", g.Interface(), w.Interface())
		}
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	return t.Format(time.RFC3339Nano)
}

// checkEqual reports an error if got differs from want under the suite's equality.
func checkEqual(t *testing.T, name string, got, want any) {
	t.Helper()
	if d := diff(name, got, want); len(d) > 0 {
		t.Errorf("%s differs from what was written:\n\t%s", name, strings.Join(d, "\n\t"))
	}
}

// checkList reports an error unless got holds the records of want, in the same order, each
// equal under the suite's equality. key names a record in messages.
func checkList[T any](t *testing.T, name string, got, want []T, key func(T) string) {
	t.Helper()
	gk, wk := make([]string, len(got)), make([]string, len(want))
	for i, r := range got {
		gk[i] = key(r)
	}
	for i, r := range want {
		wk[i] = key(r)
	}
	if !reflect.DeepEqual(gk, wk) {
		t.Errorf("%s: got %q, want %q", name, gk, wk)
		return
	}
	for i := range got {
		checkEqual(t, fmt.Sprintf("%s[%d] (%s)", name, i, wk[i]), got[i], want[i])
	}
}

func clientKey(c storage.Client) string      { return c.ID }
func scopeKey(s storage.Scope) string        { return s.Name }
func keyKey(k storage.SigningKey) string     { return k.ID }
func eventKey(e storage.AuditEvent) string   { return e.Type + "@" + fmtTime(e.Time.UTC()) }
func eventKeyID(e storage.AuditEvent) string { return fmt.Sprint(e.ID) }

// checkErr reports an error unless err matches target with errors.Is.
func checkErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}
