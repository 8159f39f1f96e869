package sqlstore

import "strings"

// defaultPageLimit is the page size of QueryClients and QueryUsers when the query sets none.
const defaultPageLimit = 100

func pageLimit(n int) int {
	if n <= 0 {
		return defaultPageLimit
	}
	return n
}

// likeEscaper escapes the LIKE wildcards and the escape character of the search conditions
// (ESCAPE '!'), so that the search text matches literally.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// likePattern returns the LIKE pattern of a case-insensitive (ASCII) substring search for
// text: text with its ASCII letters lower-cased and its wildcards escaped, between '%'s.
func likePattern(text string) string {
	return "%" + likeEscaper.Replace(lowerASCII(text)) + "%"
}

// lowerASCII lower-cases the ASCII letters of s and leaves every other byte alone, as SQL
// lower() does on SQLite and in PostgreSQL's "C" collation.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
