package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Page sizes of QueryClients, QueryUsers and ListAudit.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
	maxSearchLen    = 200
)

// pageSize checks a requested page size: 0 is DefaultPageSize.
func pageSize(p *problems, limit int) int {
	switch {
	case limit == 0:
		return DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		p.add("limit", "must be between 1 and %d", MaxPageSize)
		return DefaultPageSize
	}
	return limit
}

func checkSearch(p *problems, s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxSearchLen {
		p.add("q", "must be at most %d bytes", maxSearchLen)
	}
	checkText(p, "q", s, maxSearchLen)
	return s
}

// QueryClients returns one page of the clients whose id or name contains q.Search (ignoring
// case), ordered by id, without secret hashes. next is the q.After of the following page,
// or "" when this page is the last. q.Limit 0 is DefaultPageSize; more than MaxPageSize is a
// ValidationErrors.
func (a *Admin) QueryClients(ctx context.Context, q storage.ClientQuery) ([]storage.Client, string, error) {
	var p problems
	limit := pageSize(&p, q.Limit)
	q.Search = checkSearch(&p, q.Search)
	if err := p.err(); err != nil {
		return nil, "", fmt.Errorf("admin: list clients: %w", err)
	}
	q.Limit = limit + 1 // one more tells whether there is a next page
	list, err := a.store.QueryClients(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("admin: list clients: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	for i := range list {
		list[i] = redact(list[i])
	}
	return list, next, nil
}

// QueryUsers returns one page of the users whose username, email or name contains q.Search
// (ignoring case), ordered by username, without password hashes. next is the q.After of the
// following page, or "" when this page is the last.
func (a *Admin) QueryUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, string, error) {
	var p problems
	limit := pageSize(&p, q.Limit)
	q.Search = checkSearch(&p, q.Search)
	if err := p.err(); err != nil {
		return nil, "", fmt.Errorf("admin: list users: %w", err)
	}
	q.Limit = limit + 1
	list, err := a.store.QueryUsers(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("admin: list users: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].Username
	}
	for i := range list {
		list[i] = redactUser(list[i])
	}
	return list, next, nil
}
