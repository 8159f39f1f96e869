// Package token holds Gatehouse's token and key primitives: opaque tokens (prefix, random part and
// checksum), token hashing, client-secret and password hashing, signing keys, AES-GCM sealing of data
// at rest, and RFC 9068 JWT access tokens.
//
// It imports nothing of Gatehouse: only the standard library, go-jose and golang.org/x/crypto.
// Every function takes its inputs explicitly (keys, the current time); there is no package state.
package token
