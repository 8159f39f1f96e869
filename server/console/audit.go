package console

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// auditFilter is the audit filter form as typed.
type auditFilter struct {
	Type, Actor, ClientID, Subject string
	// Since and Until are UTC times as typed ("2026-01-02T15:04" or RFC 3339).
	Since, Until string
}

// auditEvent is an event with its details in key order.
type auditEvent struct {
	storage.AuditEvent
	Details []detail
}

type detail struct{ Key, Value string }

// auditPage is the audit trail browser.
type auditPage struct {
	Page
	Filter auditFilter
	Errors fieldErrors
	Events []auditEvent
	// Next is the cursor of the next page ("" on the last); First is set when this is not
	// the first page.
	Next  string
	First bool
	// Types are known event types, offered in the type field.
	Types []string
}

// eventTypes are the audit event types Gatehouse writes, offered as suggestions.
var eventTypes = []string{
	oauth.EventLoginSucceeded, oauth.EventLoginFailed, "logout",
	oauth.EventAuthorizationApproved, oauth.EventConsentGranted, "consent.denied", oauth.EventConsentRevoked,
	oauth.EventDeviceApproved, oauth.EventDeviceDenied,
	oauth.EventTokenIssued, oauth.EventTokenRevoked, oauth.EventTokenReuseDetected,
	oauth.EventPersonalTokenCreated, oauth.EventPersonalTokenRevoked,
	admin.EventClientCreated, admin.EventClientUpdated, admin.EventClientDeleted, admin.EventClientSecretRotated,
	admin.EventScopeCreated, admin.EventScopeUpdated, admin.EventScopeDeleted,
	admin.EventUserCreated, admin.EventUserUpdated, admin.EventUserPasswordSet, admin.EventUserDisabled,
	admin.EventUserEnabled, admin.EventUserDeleted, admin.EventSessionRevoked, admin.EventKeyRotated,
	admin.EventAdminTokenCreated, admin.EventAdminTokenRevoked,
}

// timeLayouts are the accepted forms of the since and until fields (UTC unless the text says).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseCursor reads "<unix microseconds>.<id>", the position after the last event shown.
func parseCursor(s string) (time.Time, int64, bool) {
	a, b, ok := strings.Cut(s, ".")
	if !ok {
		return time.Time{}, 0, false
	}
	us, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(us).UTC(), id, true
}

func cursorOf(e storage.AuditEvent) string {
	return strconv.FormatInt(e.Time.UnixMicro(), 10) + "." + strconv.FormatInt(e.ID, 10)
}

func (c *Console) auditList(x *exchange) {
	q := x.r.URL.Query()
	p := &auditPage{Page: Page{Title: "Audit trail", Nav: "audit"}, Types: eventTypes, Errors: fieldErrors{}}
	p.Filter = auditFilter{Type: strings.TrimSpace(q.Get("type")), Actor: strings.TrimSpace(q.Get("actor")),
		ClientID: strings.TrimSpace(q.Get("client_id")), Subject: strings.TrimSpace(q.Get("subject")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	f := storage.AuditFilter{Type: p.Filter.Type, Actor: p.Filter.Actor, ClientID: p.Filter.ClientID,
		Subject: p.Filter.Subject, Limit: c.opts.PageSize}
	for name, v := range map[string]string{"type": f.Type, "actor": f.Actor, "client_id": f.ClientID, "subject": f.Subject} {
		if len(v) > 256 {
			p.Errors[name] = []string{"At most 256 characters."}
		}
	}
	var ok bool
	if p.Filter.Since != "" {
		if f.Since, ok = parseTime(p.Filter.Since); !ok {
			p.Errors["since"] = []string{"Not a time: use 2006-01-02T15:04 (UTC) or RFC 3339."}
		}
	}
	if p.Filter.Until != "" {
		if f.Until, ok = parseTime(p.Filter.Until); !ok {
			p.Errors["until"] = []string{"Not a time: use 2006-01-02T15:04 (UTC) or RFC 3339."}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		p.Errors["until"] = append(p.Errors["until"], "Must be after “since”.")
	}
	if cur := q.Get("before"); cur != "" {
		if f.BeforeTime, f.BeforeID, ok = parseCursor(cur); !ok {
			x.badRequest("The page parameter is not valid; start again from the first page.")
			return
		}
		p.First = true
	}
	if len(p.Errors) > 0 {
		p.Error = "The filter is not valid: correct the fields marked below."
		x.render(http.StatusBadRequest, "audit", p)
		return
	}
	events, more, err := x.adm.ListAudit(x.r.Context(), f)
	if err != nil {
		x.fail(err)
		return
	}
	if more && len(events) > 0 {
		p.Next = cursorOf(events[len(events)-1])
	}
	for _, e := range events {
		ae := auditEvent{AuditEvent: e}
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			ae.Details = append(ae.Details, detail{Key: k, Value: e.Details[k]})
		}
		p.Events = append(p.Events, ae)
	}
	x.render(http.StatusOK, "audit", p)
}

// query returns the filter as URL parameters, with extra set (for the filter links and the
// next page).
func (f auditFilter) query(extra ...string) string {
	v := url.Values{}
	for k, s := range map[string]string{"type": f.Type, "actor": f.Actor, "client_id": f.ClientID, "subject": f.Subject,
		"since": f.Since, "until": f.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

// NextURL is the next page's address.
func (p *auditPage) NextURL() string { return pathAudit + "?" + p.Filter.query("before", p.Next) }

// FirstURL is the first page's address with the same filter.
func (p *auditPage) FirstURL() string { return pathAudit + "?" + p.Filter.query() }

// FilterURL is the address of the audit trail filtered by one more field.
func (p *auditPage) FilterURL(field, value string) string {
	return pathAudit + "?" + p.Filter.query(field, value)
}

// countLabel shows a count that may have been capped.
func countLabel(n int, more bool) string {
	if more {
		return fmt.Sprintf("%d+", n)
	}
	return strconv.Itoa(n)
}
