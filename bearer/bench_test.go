package bearer_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/token"
)

func BenchmarkVerifyJWT(b *testing.B) {
	for _, alg := range []string{token.ES256, token.RS256} {
		b.Run(alg, func(b *testing.B) {
			e := start(b, servertest.WithProviderOptions(func(o *oauth.Options) { o.AccessTokenAlgorithm = alg }))
			v := e.verifier(b)
			raw := e.jwt(b, "invoices:read")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyOpaqueCached(b *testing.B) {
	e := start(b)
	v := e.verifier(b, func(c *bearer.Config) { c.Now = nil }) // the real clock: the cache stays fresh
	raw := e.opaque(b, "invoices:read")
	ctx := context.Background()
	if _, err := v.Verify(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
