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
	if d.QOP != "" && !strings.EqualFold(d.QOP, "auth") {
		return false // auth-int needs the body's digest; no client of ours sends it
	}
	ha1 := md5hex(d.Username + ":" + d.Realm + ":" + password)
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
