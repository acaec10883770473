// Package auth authenticates API bearer tokens. Tokens are configured as
// role:name:secret entries (GOHERE_TOKENS, comma-separated, or a tokens file,
// one per line); a secret may be given as sha256:<hex>. Only SHA-256 digests
// are kept in memory and every lookup compares against all of them in
// constant time. Error messages never contain a secret.
//
// It imports only the domain package gohere; never gin, the store or other
// internal packages.
package auth
