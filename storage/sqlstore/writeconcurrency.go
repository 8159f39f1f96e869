package sqlstore

// postgresWriteConcurrency is how many write transactions PostgreSQL runs at once to
// advantage for the token writer of package oauth (group commit): with four batches in flight
// their round trips and commits overlap (measured: about 15% more opaque tokens per second
// than one batch at a time at 64 connections).
const postgresWriteConcurrency = 4

// WriteConcurrency reports how many write transactions the store runs at once to advantage
// (oauth.WriteConcurrency): 1 on SQLite, whose one writer connection runs them one after the
// other anyway, so that concurrent rows gather in fewer, larger transactions; a few on
// PostgreSQL, never more than the pool.
func (s *Store) WriteConcurrency() int {
	if s.dialect == DialectSQLite {
		return 1
	}
	n := postgresWriteConcurrency
	if m := s.w.Stats().MaxOpenConnections; m > 0 {
		n = min(n, m)
	}
	return n
}
