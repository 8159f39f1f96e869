package oauth

// VerifiedJWTs reports how many tokens p's JWT verification cache holds.
func VerifiedJWTs(p *Provider) int {
	p.jwts.mu.RLock()
	defer p.jwts.mu.RUnlock()
	return len(p.jwts.m)
}
