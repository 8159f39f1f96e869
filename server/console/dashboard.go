package console

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// countCap bounds the rows the dashboard reads to count clients and users.
const countCap = 500

// dashboardPage is the console's start page.
type dashboardPage struct {
	Page
	Clients, Users, Scopes, Keys string
	// Failed counts the failed sign-ins of the last day (capped).
	Failed string
	Recent []auditEvent
}

func (c *Console) dashboard(x *exchange) {
	ctx := x.r.Context()
	p := &dashboardPage{Page: Page{Title: "Dashboard", Nav: "dashboard"}}
	clients, next, err := x.adm.QueryClients(ctx, storage.ClientQuery{Limit: countCap})
	if err != nil {
		x.fail(err)
		return
	}
	p.Clients = countLabel(len(clients), next != "")
	users, next, err := x.adm.QueryUsers(ctx, storage.UserQuery{Limit: countCap})
	if err != nil {
		x.fail(err)
		return
	}
	p.Users = countLabel(len(users), next != "")
	scopes, err := x.adm.ListScopes(ctx)
	if err != nil {
		x.fail(err)
		return
	}
	p.Scopes = countLabel(len(scopes), false)
	keys, err := x.adm.ListKeys(ctx)
	if err != nil {
		x.fail(err)
		return
	}
	p.Keys = countLabel(len(keys), false)
	failed, more, err := x.adm.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventLoginFailed, Since: c.now().Add(-24 * time.Hour), Limit: 100})
	if err != nil {
		x.fail(err)
		return
	}
	p.Failed = countLabel(len(failed), more)
	recent, _, err := x.adm.ListAudit(ctx, storage.AuditFilter{Limit: 10})
	if err != nil {
		x.fail(err)
		return
	}
	for _, e := range recent {
		p.Recent = append(p.Recent, auditEvent{AuditEvent: e})
	}
	x.render(http.StatusOK, "dashboard", p)
}
