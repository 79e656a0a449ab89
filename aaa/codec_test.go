package aaa

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

var testSecret = []byte("s3cret")

func testRequest(t testing.TB) []byte {
	t.Helper()
	p := &radius.Packet{Code: radius.CodeAccessRequest}
	rfc2865.UserName_SetString(p, "127.0.0.2")
	p.Add(rfc2865.UserPassword_Type, radius.Attribute("cisco"))
	b, err := encodeRequest(p, 7, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signReply fixes up the length, identifier and response authenticator of
// raw reply bytes, so a test reaches the checks behind them.
func signReply(reply, req, secret []byte) []byte {
	binary.BigEndian.PutUint16(reply[2:], uint16(len(reply)))
	reply[1] = req[1]
	h := md5.New()
	h.Write(reply[:4])
	h.Write(req[4:20])
	h.Write(reply[20:])
	h.Write(secret)
	h.Sum(reply[4:4])
	return reply
}

func accept(t testing.TB, req []byte, build func(p *radius.Packet)) []byte {
	t.Helper()
	p := &radius.Packet{Code: radius.CodeAccessAccept, Identifier: req[1], Secret: testSecret}
	copy(p.Authenticator[:], req[4:20])
	build(p)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestCarriesMessageAuthenticator(t *testing.T) {
	t.Parallel()
	req := testRequest(t)
	if req[20] != 80 || req[21] != 18 {
		t.Fatalf("first attribute %d/%d", req[20], req[21])
	}
	b := append([]byte(nil), req...)
	clear(b[22:38])
	m := hmac.New(md5.New, testSecret)
	m.Write(b)
	if !hmac.Equal(m.Sum(nil), req[22:38]) {
		t.Error("Message-Authenticator does not verify")
	}
	p, err := radius.Parse(req, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := radius.UserPassword(p.Get(rfc2865.UserPassword_Type), testSecret, req[4:20]); err != nil || string(pw) != "cisco" {
		t.Errorf("User-Password %q, %v", pw, err)
	}

	acct := &radius.Packet{Code: radius.CodeAccountingRequest}
	rfc2865.UserName_SetString(acct, "x")
	ab, err := encodeRequest(acct, 1, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !radius.IsAuthenticRequest(ab, testSecret) {
		t.Error("Accounting-Request authenticator wrong")
	}
}

func TestDecodeReply(t *testing.T) {
	t.Parallel()
	req := testRequest(t)
	good := accept(t, req, func(p *radius.Packet) {
		AddH323(p, H323CreditTime, "60")
		AddAVPair(p, "h323-ivr-in", "Routing:1@127.0.0.1:5080")
	})
	p, err := DecodeReply(good, req, testSecret, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseAuthReply(p, DefaultReturnCodes())
	if err != nil || res.CreditTime != time.Minute || len(res.Routes) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := DecodeReply(good, req, testSecret, true); !errors.Is(err, ErrNoMsgAuthenticator) {
		t.Errorf("missing MA with require: %v", err)
	}

	withMA := func(corrupt bool) []byte {
		b := accept(t, req, func(p *radius.Packet) {
			p.Add(80, make(radius.Attribute, 16))
		})
		copy(b[4:20], req[4:20])
		m := hmac.New(md5.New, testSecret)
		m.Write(b)
		m.Sum(b[22:22])
		if corrupt {
			b[30] ^= 1
		}
		return signReply(b, req, testSecret)
	}
	if _, err := DecodeReply(withMA(false), req, testSecret, true); err != nil {
		t.Errorf("valid MA: %v", err)
	}
	if _, err := DecodeReply(withMA(true), req, testSecret, false); !errors.Is(err, ErrBadMsgAuthenticator) {
		t.Errorf("bad MA: %v", err)
	}

	cases := map[string]struct {
		reply []byte
		want  error
	}{
		"wrong secret": {accept(t, req, func(*radius.Packet) {}), nil},
		"runt":         {good[:10], ErrMalformed},
		"length beyond datagram": {func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)+5))
			return b
		}(), ErrMalformed},
		"truncated attribute": {signReply(append(append([]byte(nil), good[:20]...), 18, 40, 'x'), req, testSecret), ErrMalformed},
		"unknown code": {func() []byte {
			b := append([]byte(nil), good...)
			b[0] = 42
			return signReply(b, req, testSecret)
		}(), ErrUnexpectedCode},
		"garbage VSA string": {signReply(accept(t, req, func(p *radius.Packet) { AddVSA(p, H323CreditTime, "6\x000") }), req, testSecret), ErrBadVSA},
		"truncated VSA":      {signReply(append(append([]byte(nil), good[:20]...), 26, 9, 0, 0, 0, 9, 102, 9, 'x'), req, testSecret), ErrBadVSA},
		"forged authenticator": {func() []byte {
			b := append([]byte(nil), good...)
			b[5] ^= 0xff
			return b
		}(), ErrBadAuthenticator},
	}
	// "wrong secret": signed with another secret.
	ws := cases["wrong secret"]
	ws.reply, ws.want = signReply(append([]byte(nil), good...), req, []byte("other")), ErrBadAuthenticator
	cases["wrong secret"] = ws
	for name, c := range cases {
		_, err := DecodeReply(c.reply, req, testSecret, false)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}

	bad := signReply(accept(t, req, func(p *radius.Packet) { AddH323(p, H323CreditTime, "lots") }), req, testSecret)
	if p, err := DecodeReply(bad, req, testSecret, false); err != nil {
		t.Fatal(err)
	} else if _, err := ParseAuthReply(p, DefaultReturnCodes()); !errors.Is(err, ErrBadVSA) {
		t.Errorf("non-numeric credit: %v", err)
	}
}

func FuzzDecodeReply(f *testing.F) {
	req := testRequest(f)
	f.Add(accept(f, req, func(p *radius.Packet) {
		AddH323(p, H323CreditTime, "60")
		AddH323(p, H323ReturnCode, "0")
		AddAVPair(p, "h323-ivr-in", "Routing:1@127.0.0.1:5080;credit-time=5")
		AddAVPair(p, "h323-ivr-in", "CNAM:A%20B")
	}), true)
	f.Add([]byte{3, 7, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, reply []byte, sign bool) {
		if sign && len(reply) >= 20 && len(reply) <= radius.MaxPacketLength {
			reply = signReply(reply, req, testSecret)
		}
		p, err := DecodeReply(reply, req, testSecret, false)
		if err != nil {
			return
		}
		_, _ = ParseAuthReply(p, DefaultReturnCodes())
	})
}
