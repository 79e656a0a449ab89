package testenv

import (
	"strings"
	"testing"
)

func TestParseDetail(t *testing.T) {
	t.Parallel()
	text := "Sun Nov 22 12:40:01 2026\n\tAcct-Status-Type = Stop\n\tUser-Name = \"a\\\"b\\\\c\\001\"\n\tCisco-AVPair = \"x=1\"\n\tCisco-AVPair = \"y=2\"\n\nSun Nov 22 12:40:02 2026\n\tUser-Name = \"partial\"\n"
	recs, err := ParseDetail(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Get("User-Name") != "a\"b\\c\x01" || recs[0].Get("Acct-Status-Type") != "Stop" ||
		len(recs[0].Attrs["Cisco-AVPair"]) != 2 {
		t.Errorf("%+v", recs)
	}
}

func FuzzParseDetail(f *testing.F) {
	f.Add("Sun Nov 22 12:40:01 2026\n\tUser-Name = \"a\\101\"\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDetail(strings.NewReader(s))
	})
}
