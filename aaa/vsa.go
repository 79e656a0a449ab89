package aaa

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// Errors a reply can fail with; each is wrapped with the detail.
var (
	ErrMalformed           = errors.New("radius: malformed reply")
	ErrBadAuthenticator    = errors.New("radius: reply authenticator mismatch")
	ErrBadMsgAuthenticator = errors.New("radius: reply Message-Authenticator mismatch")
	ErrNoMsgAuthenticator  = errors.New("radius: reply lacks the required Message-Authenticator")
	ErrUnexpectedCode      = errors.New("radius: unexpected reply code")
	ErrBadVSA              = errors.New("radius: bad Cisco VSA")
)

// AddVSA appends one Cisco VSA (one attribute 26 per VSA, as Cisco does).
func AddVSA(p *radius.Packet, t VSA, value string) error {
	if len(value) > 247 {
		return fmt.Errorf("radius: %s value of %d bytes does not fit an attribute", t, len(value))
	}
	b := make(radius.Attribute, 6+len(value))
	binary.BigEndian.PutUint32(b, CiscoVendorID)
	b[4] = byte(t)
	b[5] = byte(2 + len(value))
	copy(b[6:], value)
	p.Add(rfc2865.VendorSpecific_Type, b)
	return nil
}

// AddH323 appends an h323-* VSA in Cisco's "name=value" form.
func AddH323(p *radius.Packet, t VSA, value string) error {
	return AddVSA(p, t, t.String()+"="+value)
}

// addNode names the sending Tollgate the two ways billing servers look for
// a NAS: NAS-Identifier (RFC 2865 §5.32, allowed in Access- and
// Accounting-Requests), and h323-gw-id, which Cisco gateways fill with their
// host name and Cisco-minded billing keys on.
func addNode(p *radius.Packet, node string) error {
	if node == "" {
		return nil
	}
	return errors.Join(rfc2865.NASIdentifier_SetString(p, node), AddH323(p, H323GWID, node))
}

// AddAVPair appends a Cisco-AVPair "name=value".
func AddAVPair(p *radius.Packet, name, value string) error {
	return AddVSA(p, CiscoAVPair, name+"="+value)
}

// walkCiscoVSAs calls fn for each Cisco VSA in attrs, failing on a vendor
// attribute whose sub-attribute layout does not add up.
func walkCiscoVSAs(attrs radius.Attributes, fn func(VSA, []byte) error) error {
	for _, avp := range attrs {
		if avp.Type != rfc2865.VendorSpecific_Type {
			continue
		}
		a := avp.Attribute
		if len(a) < 4 {
			return fmt.Errorf("%w: Vendor-Specific of %d bytes", ErrMalformed, len(a))
		}
		if binary.BigEndian.Uint32(a) != CiscoVendorID {
			continue
		}
		vsa := a[4:]
		if len(vsa) == 0 {
			return fmt.Errorf("%w: empty Cisco Vendor-Specific", ErrBadVSA)
		}
		for len(vsa) > 0 {
			if len(vsa) < 2 || int(vsa[1]) < 2 || int(vsa[1]) > len(vsa) {
				return fmt.Errorf("%w: truncated sub-attribute", ErrBadVSA)
			}
			t, l := VSA(vsa[0]), int(vsa[1])
			if err := fn(t, vsa[2:l]); err != nil {
				return err
			}
			vsa = vsa[l:]
		}
	}
	return nil
}

// checkVSAString refuses what no billing system means to send: bytes that
// are not UTF-8 or that are control characters.
func checkVSAString(t VSA, v []byte) error {
	if !utf8.Valid(v) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrBadVSA, t)
	}
	for _, c := range string(v) {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %s holds control character %#x", ErrBadVSA, t, c)
		}
	}
	return nil
}

// validateVSAs checks every Cisco VSA of a reply: layout always, and string
// content for the types the dictionary knows (all strings).
func validateVSAs(attrs radius.Attributes) error {
	return walkCiscoVSAs(attrs, func(t VSA, v []byte) error {
		if !t.Known() {
			return nil
		}
		return checkVSAString(t, v)
	})
}

// VSAValues returns the values of every Cisco VSA of type t in attrs.
func VSAValues(attrs radius.Attributes, t VSA) ([]string, error) {
	var out []string
	err := walkCiscoVSAs(attrs, func(got VSA, v []byte) error {
		if got == t {
			if err := checkVSAString(t, v); err != nil {
				return err
			}
			out = append(out, string(v))
		}
		return nil
	})
	return out, err
}

// H323Value strips Cisco's "name=" prefix from an h323-* value, accepting
// the bare value too. A prefix naming another attribute is an error.
func H323Value(t VSA, raw string) (string, error) {
	name := t.String()
	if v, ok := strings.CutPrefix(raw, name+"="); ok {
		return v, nil
	}
	if i := strings.IndexByte(raw, '='); i > 0 && strings.HasPrefix(raw, "h323-") {
		return "", fmt.Errorf("%w: %s carries %q", ErrBadVSA, name, raw[:i])
	}
	return raw, nil
}

// SplitAVPair splits a Cisco-AVPair "name=value".
func SplitAVPair(s string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(s, "=")
	return name, value, ok && name != ""
}
