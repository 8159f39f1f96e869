package oauth_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Example embeds the protocol core in an application: any storage.Store works (here the
// memory store), the keyring keeps signing keys sealed in it, and the Provider answers token
// requests. The server package puts HTTP in front of the same Provider.
func Example() {
	ctx := context.Background()
	store := memory.New()

	sealingKey, _ := token.ParseSealingKey("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	sealer, _ := token.NewSealer(sealingKey)
	keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{})
	if err := keys.Ensure(ctx, token.ES256); err != nil {
		log.Fatal(err)
	}

	_ = store.CreateScope(ctx, storage.Scope{Name: "reports:read", Default: true})
	secret, _ := token.NewClientSecret()
	_ = store.CreateClient(ctx, storage.Client{
		ID: "reporter", SecretHash: token.HashGeneratedSecret(secret), TokenFormat: storage.TokenFormatJWT,
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"reports:read"},
	})

	p, err := oauth.New(oauth.Options{Issuer: "https://auth.example.com", GrantTypes: []string{oauth.GrantClientCredentials}},
		oauth.Deps{Store: store, Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := p.Token(ctx, oauth.TokenRequest{
		GrantType: oauth.GrantClientCredentials,
		Client:    oauth.ClientCredentials{ID: "reporter", Secret: secret, Method: oauth.AuthMethodBasic},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.TokenType, resp.Scope, resp.ExpiresIn, token.LooksLikeJWT(resp.AccessToken))
	// Output: Bearer reports:read 3600 true
}
