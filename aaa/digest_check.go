package aaa

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Matches tells whether the credentials answer their challenge with
// password (RFC 2617 MD5, with or without qop=auth): how a registrar that
// holds its users' passwords itself checks them, where a call's digest is
// checked by RADIUS. The nonce is the caller's to verify
// (Nonces.CheckAuthorization) before.
func (d *DigestCredentials) Matches(password string) bool {
	return d.MatchesHA1(HA1(d.Username, d.Realm, password))
}

// HA1 is MD5(user:realm:password) in hex (RFC 2617 3.2.2.2): what a digest
// check needs of a secret, and all a registrar need keep of it.
func HA1(user, realm, password string) string {
	return md5hex(user + ":" + realm + ":" + password)
}

// MatchesHA1 is Matches for a secret known by its HA1 only.
func (d *DigestCredentials) MatchesHA1(ha1 string) bool {
	if d.QOP != "" && !strings.EqualFold(d.QOP, "auth") {
		return false // auth-int needs the body's digest; no client of ours sends it
	}
	ha2 := md5hex(d.Method + ":" + d.URI)
	var want string
	if d.QOP == "" {
		want = md5hex(ha1 + ":" + d.Nonce + ":" + ha2)
	} else {
		want = md5hex(ha1 + ":" + d.Nonce + ":" + d.NonceCount + ":" + d.CNonce + ":" + d.QOP + ":" + ha2)
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(d.Response))) == 1
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
