package sqlstore

import "testing"

func TestWriteConcurrency(t *testing.T) {
	if n := openSQLiteStore(t).WriteConcurrency(); n != 1 {
		t.Errorf("SQLite: %d, want 1 (one writer connection)", n)
	}
	if n := openPostgresStore(t).WriteConcurrency(); n != 4 { // the pool of 4 bounds it too
		t.Errorf("PostgreSQL: %d, want 4", n)
	}
}
