package aaa

import "testing"

// The RFC 2617 3.5 example, and the same without qop.
func TestDigestMatches(t *testing.T) {
	d := DigestCredentials{Username: "Mufasa", Realm: "testrealm@host.com", Method: "GET",
		Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", URI: "/dir/index.html", QOP: "auth",
		NonceCount: "00000001", CNonce: "0a4f113b", Response: "6629fae49393a05397450978507c4ef1"}
	if !d.Matches("Circle Of Life") {
		t.Error("RFC 2617 example refused")
	}
	if d.Matches("circle of life") {
		t.Error("a wrong password accepted")
	}
	d.QOP, d.Response = "", "670fd8c2df070c60b045671b8b24ff02"
	if !d.Matches("Circle Of Life") {
		t.Error("RFC 2069 form (no qop) refused")
	}
}
