package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMapSEMSFormat(t *testing.T) {
	t.Parallel()
	text := "# this is a comment\n" +
		"   # an indented comment\n" +
		"\n" +
		"^stefan=>stefansayer\r\n" +
		"^frank=>frankmajer\n" +
		"^10\\.(.)\\..*=>internal\\1\n" +
		"^(a+)(b+)(c*)$=>\\3-\\2-\\1\n" +
		"^esc(.*)$=>back\\\\slash\\1\n" +
		"^miss(x)?(y)$=>[\\1][\\2]\n" +
		"^nine(.)=>\\9\\1\n"
	file := filepath.Join(t.TempDir(), "usermap.conf")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMap("usermap", file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(text))
	if m.Name != "usermap" || m.File != file || m.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("map identity %q %q %q", m.Name, m.File, m.Checksum)
	}
	cases := []struct {
		key, want string
		ok        bool
	}{
		{"stefan.sayer", "stefansayer", true},
		{"frank", "frankmajer", true},
		{"xstefan", "", false},
		{"10.1.2.3", "internal1", true},
		{"10.7.2.3", "internal7", true},
		{"aabbb", "-bbb-aa", true},
		{"esc!", `back\slash!`, true},
		// group 1 did not take part: SEMS stops substituting there
		{"missy", `[\1][\2]`, true},
		{"missxy", "[x][y]", true},
		{"ninez", `\9z`, true},
	}
	for _, c := range cases {
		got, ok := m.Map(c.key)
		if got != c.want || ok != c.ok {
			t.Errorf("Map(%q) = %q, %v; want %q, %v", c.key, got, ok, c.want, c.ok)
		}
	}
}

func TestParseMapErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ text, want string }{
		{"^a=>b\nnoarrow\n", "line 2"},
		{"^a=>b=>c\n", "line 1"},
		{"=>b\n", "line 1"},
		{"^(a=>b\n", "line 1"},
		{`^\d+=>digits` + "\n", "line 1"},
	}
	for _, c := range cases {
		_, err := ParseMap("m", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"m"`) {
			t.Errorf("ParseMap(%q) = %v, want an error naming the map and %s", c.text, err, c.want)
		}
	}
	if _, err := LoadMap("gone", filepath.Join(t.TempDir(), "gone.conf")); err == nil {
		t.Error("LoadMap of a missing file succeeded")
	}
}

func TestMapFirstMatchWinsAndLeftmostLongest(t *testing.T) {
	t.Parallel()
	m := mustMap(t, "m", "a|ab=>first\\0\nab=>second\n(a|ab)(c|bcd)=>\\1/\\2\n")
	if got, _ := m.Map("abcd"); got != `first\0` {
		t.Errorf("Map(abcd) = %q", got)
	}
	// POSIX leftmost-longest, as glibc's regexec: "ab", where Perl rules give "a"
	m2 := mustMap(t, "m2", "^(a|ab)=>[\\1]\n")
	if got, _ := m2.Map("abcd"); got != "[ab]" {
		t.Errorf("Map(abcd) = %q, want [ab]", got)
	}
}

func TestMapSet(t *testing.T) {
	t.Parallel()
	a, b := mustMap(t, "b", "x=>1\n"), mustMap(t, "a", "y=>2\n")
	s := mustMaps(t, a, b)
	if s.Get("a") != b || s.Get("c") != nil {
		t.Error("Get")
	}
	if got := s.Maps(); len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Errorf("Maps() not sorted: %v", got)
	}
	if _, err := NewMapSet(a, mustMap(t, "b", "")); err == nil {
		t.Error("duplicate map name accepted")
	}
	var none *MapSet
	if none.Get("a") != nil || none.Maps() != nil {
		t.Error("nil MapSet")
	}
}
