package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/switch/profile"
)

const route = "routes:\n  - {prefix: \"\", gateways: [{address: \"127.0.0.1:5070\"}]}\n"

func TestProfilesLoadAndSelect(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profile_select:
  selectors: ["$M($rU=>numbers)", "$(paramhdr)"]
  maps: [{name: numbers, entries: "^49=>de\n"}]
profiles:
  - {name: de, ruri: "sip:00$rU@$rd", reply_translate: "603=>488 Not acceptable here|600=>406 Nope"}
  - {name: other, header_filter: whitelist, header_list: [X-Foo]}
`))
	if err != nil {
		t.Fatal(err)
	}
	de, ok := c.Profile("de")
	if !ok || de.HeaderFilter != FilterNone || de.Replies[603] != (Reply{Code: 488, Reason: "Not acceptable here"}) ||
		de.Replies[600] != (Reply{Code: 406, Reason: "Nope"}) || len(de.Checksum) != 64 || de.Origin != "profiles[0]" {
		t.Errorf("de = %+v", de)
	}
	if o, _ := c.Profile("other"); !o.HeaderList["x-foo"] {
		t.Errorf("other = %+v", o)
	}
	pick := func(ruri, extra string) string {
		req := profile.NewRequest(profile.Message{Method: "INVITE", URI: ruri,
			From: "<sip:a@h>;tag=1", To: "<" + ruri + ">", Headers: []profile.Header{{Name: "P-App-Param", Value: extra}}})
		p, err := c.ChosenProfile(c.SelectorChoice(req), c.Route(RouteQuery{Called: "1"}))
		if err != nil {
			return "error: " + err.Error()
		}
		if p == nil {
			return ""
		}
		return p.Name
	}
	if got := pick("sip:4930@x", ""); got != "de" {
		t.Errorf("49... chose %q", got)
	}
	if got := pick("sip:1@x", "profile=other"); got != "other" {
		t.Errorf("P-App-Param chose %q", got)
	}
	if got := pick("sip:1@x", ""); got != "" {
		t.Errorf("nothing should match, got %q", got)
	}
	if got := pick("sip:1@x", "profile=missing"); !strings.Contains(got, "not loaded") {
		t.Errorf("unknown profile: %q", got)
	}
	if got := len(c.ProfileList()); got != 2 {
		t.Errorf("%d profiles listed", got)
	}
}

func TestProfileRouteFallbackAndMapFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "ipmap.conf")
	if err := os.WriteFile(file, []byte("# comment\n^10\\.=>inside\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(`
routes:
  - {prefix: "", profile: inside, gateways: [{address: "127.0.0.1:5070"}]}
profile_select:
  selectors: ["$M($si=>ipmap)"]
  maps: [{name: ipmap, file: "` + file + `"}]
profiles: [{name: inside, call_timer: "60"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	req := profile.NewRequest(profile.Message{Method: "INVITE", URI: "sip:1@x", From: "<sip:a@h>", To: "<sip:1@x>"})
	if p, err := c.ChosenProfile(c.SelectorChoice(req), c.Route(RouteQuery{Called: "1"})); err != nil || p == nil || p.Name != "inside" {
		t.Errorf("route fallback: %v, %v", p, err)
	}
}

func TestProfileErrorsAreLocated(t *testing.T) {
	t.Parallel()
	var ce *Error
	_, err := Parse([]byte(route + `
profile_select:
  selectors: ["missing", "$Q"]
profiles:
  - name: bad
    ruri: "sip:$rX@host"
    header_filter: sometimes
    reply_translate: "603=>199 Too low"
    append_headers: ["no colon"]
    codec_filter: whitelist
  - {name: bad}
  - {name: r}
`))
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	text := err.Error()
	for _, want := range []string{
		`line 8, column 11: profiles[0].ruri: profile "bad": ruri: column 5:`,
		`profiles[0].header_filter: "sometimes"`,
		`profiles[0].reply_translate: entry 1 "603=>199 Too low"`,
		`profiles[0].append_headers[0]: "no colon"`,
		`profiles[0].codecs: a codec whitelist needs codecs`,
		`profiles[1].name: "bad" defined twice`,
		`profile_select.selectors: selectors[1]: column 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	_, err = Parse([]byte(route + `
profile_select: {selectors: [ghost]}
profiles: [{name: real}]
`))
	if err == nil || !strings.Contains(err.Error(), `profile_select.selectors[0]: names profile "ghost"`) {
		t.Errorf("err = %v", err)
	}
	_, err = Parse([]byte(`
routes: [{prefix: "", profile: ghost, gateways: [{address: "127.0.0.1:5070"}]}]
`))
	if err == nil || !strings.Contains(err.Error(), `routes[0].profile: "ghost": no such profile`) {
		t.Errorf("err = %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	if r, err := ParseStatus(" 488 Not acceptable here "); err != nil || r != (Reply{Code: 488, Reason: "Not acceptable here"}) {
		t.Errorf("got %+v, %v", r, err)
	}
	for _, bad := range []string{"", "488", "abc Foo", "200 OK", "700 Big"} {
		if _, err := ParseStatus(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseReplyTranslate(f *testing.F) {
	f.Add("603=>488 Not acceptable here|600=>406 Not Acceptable")
	f.Add("=>|")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseReplyTranslate(s)
		if err != nil {
			return
		}
		for from, to := range m {
			if from < 300 || from > 699 || to.Code < 300 || to.Code > 699 || to.Reason == "" {
				t.Fatalf("%q gave %d=>%+v", s, from, to)
			}
		}
	})
}

func TestProfileShapingOptions(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - name: shaped
    codec_preference: [PCMA, "18"]
    codec_preference_aleg: [pcmu]
    sdp_anonymize: true
    message_filter: whitelist
    message_list: [info, ACK, Bye, UPDATE]
    limit: {key: "$fu", max_calls: 2}
  - name: custom
    message_filter: blacklist
    message_list: [MESSAGE]
    limit: {key: "$si", max_calls: 1, refuse_with: "486 Busy $fU"}
  - {name: plain}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.Profile("shaped")
	if !s.SDPAnonymize || strings.Join(s.CodecPreference, ",") != "PCMA,18" || strings.Join(s.CodecPreferenceALeg, ",") != "pcmu" {
		t.Errorf("shaped = %+v", s)
	}
	if s.MessageFilter != FilterWhitelist || !s.MessageList["INFO"] || !s.MessageList["BYE"] || s.MessageList["MESSAGE"] {
		t.Errorf("message filter %s %v", s.MessageFilter, s.MessageList)
	}
	if s.Limit == nil || s.Limit.MaxCalls != 2 || s.Limit.RefuseWith != nil || s.Limit.Key.String() != "$fu" {
		t.Errorf("limit = %+v", s.Limit)
	}
	cu, _ := c.Profile("custom")
	if cu.MessageFilter != FilterBlacklist || !cu.MessageList["MESSAGE"] || cu.Limit.RefuseWith.String() != "486 Busy $fU" {
		t.Errorf("custom = %+v %+v", cu, cu.Limit)
	}
	if p, _ := c.Profile("plain"); p.MessageFilter != FilterNone || p.Limit != nil || p.SDPAnonymize {
		t.Errorf("plain = %+v", p)
	}
	if s.Checksum == cu.Checksum {
		t.Error("checksums do not tell the profiles apart")
	}
}

// TestProfileShapingChecksum: each shaping option is part of what the
// checksum covers, so a reload that changes only it shows.
func TestProfileShapingChecksum(t *testing.T) {
	t.Parallel()
	sum := func(extra string) string {
		t.Helper()
		c, err := Parse([]byte(route + "profiles:\n  - {name: p" + extra + "}\n"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := c.Profile("p")
		return p.Checksum
	}
	base := sum("")
	for _, extra := range []string{
		", codec_preference: [PCMA]",
		", codec_preference_aleg: [PCMA]",
		", sdp_anonymize: true",
		", message_filter: blacklist, message_list: [INFO]",
		", limit: {key: $fu, max_calls: 1}",
		", limit: {key: $fu, max_calls: 2}",
	} {
		if sum(extra) == base {
			t.Errorf("checksum unchanged by %q", extra)
		}
	}
}

func TestProfileShapingErrorsAreLocated(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(route + `
profiles:
  - name: bad
    codec_preference: ["PC MA"]
    codec_preference_aleg: [""]
    message_filter: sometimes
  - name: worse
    message_filter: blacklist
    message_list: [BYE, "IN FO", cancel]
    limit: {key: "$fX", max_calls: 0, refuse_with: "200 OK"}
  - name: keyless
    limit: {max_calls: 3}
`))
	if err == nil {
		t.Fatal("bad profiles accepted")
	}
	text := err.Error()
	for _, want := range []string{
		`profiles[0].codec_preference[0]: "PC MA": want a codec name`,
		`profiles[0].codec_preference_aleg[0]: "": want a codec name`,
		`profiles[0].message_filter: "sometimes"`,
		`profiles[1].message_list[0]: BYE is never filtered`,
		`profiles[1].message_list[1]: "IN FO": want a SIP method name`,
		`profiles[1].message_list[2]: CANCEL is never filtered`,
		`profiles[1].limit.key: profile "worse": limit.key: column 1`,
		`profiles[1].limit.max_calls: 0: want at least 1`,
		`profiles[1].limit.refuse_with: "200": want a final failure code`,
		`profiles[2].limit.key: a limit needs a key`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}
