package admin

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// maxAuditFilterLen bounds the text fields of an audit filter.
const maxAuditFilterLen = 255

// ListAudit returns one page of the audit events f selects, newest first, and whether more
// follow. f.Limit 0 is DefaultPageSize; a limit above MaxPageSize, an Until not after Since,
// or an overlong field is a ValidationErrors. To get the next page, set BeforeTime and
// BeforeID to the Time and ID of the last event returned.
func (a *Admin) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, bool, error) {
	var p problems
	f.Limit = pageSize(&p, f.Limit)
	for _, fld := range []struct{ name, v string }{
		{"type", f.Type}, {"actor", f.Actor}, {"client_id", f.ClientID}, {"subject", f.Subject},
	} {
		if len(fld.v) > maxAuditFilterLen {
			p.add(fld.name, "must be at most %d bytes", maxAuditFilterLen)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		p.add("until", "must be after since")
	}
	if f.BeforeID < 0 || f.BeforeID > 0 && f.BeforeTime.IsZero() {
		p.add("cursor", "is not a valid position")
	}
	if err := p.err(); err != nil {
		return nil, false, fmt.Errorf("admin: list audit events: %w", err)
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	list, err := a.store.ListAudit(ctx, f)
	if err != nil {
		return nil, false, fmt.Errorf("admin: list audit events: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}
