package server

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse/oauth"
)

// metrics are the server's Prometheus collectors. Every label has a bounded set of values:
// route is a registered pattern's path, method one of the standard methods or OTHER,
// grant_type a grant that succeeded, error an OAuth error code.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	tokens         *prometheus.CounterVec
	oauthErrors    *prometheus.CounterVec
	janitorDeleted prometheus.Counter
	auditDeleted   prometheus.Counter
	keyRotations   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tokens_issued_total",
			Help: "Successful token endpoint responses, by grant type.",
		}, []string{"grant_type"}),
		oauthErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_oauth_errors_total",
			Help: "OAuth error responses, by endpoint and error code.",
		}, []string{"endpoint", "error"}),
		janitorDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_janitor_deleted_rows_total",
			Help: "Expired rows deleted by the janitor.",
		}),
		auditDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_janitor_deleted_audit_events_total",
			Help: "Audit events older than the retention period deleted by the janitor.",
		}),
		keyRotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_key_rotations_total",
			Help: "Signing key rotations done by the janitor, by algorithm.",
		}, []string{"algorithm"}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.tokens, err = register(reg, m.tokens); err != nil {
		return nil, err
	}
	if m.oauthErrors, err = register(reg, m.oauthErrors); err != nil {
		return nil, err
	}
	if m.janitorDeleted, err = register(reg, m.janitorDeleted); err != nil {
		return nil, err
	}
	if m.auditDeleted, err = register(reg, m.auditDeleted); err != nil {
		return nil, err
	}
	if m.keyRotations, err = register(reg, m.keyRotations); err != nil {
		return nil, err
	}
	// The collectors package would do the same, but it also holds a database/sql stats
	// collector, and server must not import database/sql (internal/importcheck).
	//lint:ignore SA1019 identical to collectors.NewGoCollector, without database/sql
	if _, err = register(reg, prometheus.NewGoCollector()); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 identical to collectors.NewProcessCollector, without database/sql
	if _, err = register(reg, prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under the same
// descriptors (a registry shared by two Servers, or one that has the Go collector already).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("server: register metrics: %w", err)
}

// registerAuditMetrics exports the counters of the token.issued batcher, when there is one.
func registerAuditMetrics(reg *prometheus.Registry, b *oauth.AuditBatcher) error {
	if b == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_audit_events_written_total",
			Help: "token.issued audit events written by the batcher.",
		}, func() float64 { return float64(b.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_audit_events_dropped_total",
			Help: "token.issued audit events dropped because the batcher's queue was full (or it had stopped).",
		}, func() float64 { return float64(b.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_audit_events_lost_total",
			Help: "token.issued audit events dropped because writing them failed twice (they are logged).",
		}, func() float64 { return float64(b.Lost()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_audit_events_queued",
			Help: "token.issued audit events waiting to be written.",
		}, func() float64 { return float64(b.Queued()) }),
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue // a registry shared by two Servers: the first batcher's counters stay
			}
			return fmt.Errorf("server: register metrics: %w", err)
		}
	}
	return nil
}
