package profile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// RegexMap is a SEMS regex mapping: an ordered list of regex=>value pairs;
// the first regex that matches a key gives the value, with \1..\8 replaced
// by the regex's groups and \\ by a backslash.
type RegexMap struct {
	Name     string
	File     string // where it was loaded from; empty for ParseMap
	Checksum string // hex SHA-256 of the file's bytes
	entries  []mapEntry
}

type mapEntry struct {
	re     *regexp.Regexp
	value  []valuePart
	maxRef int // highest group referenced by value; 0 means no groups needed
}

// A valuePart is literal text (ref 0) or a group reference.
type valuePart struct {
	text string
	ref  int
}

// maxGroups matches run_regex_mapping's MAX_GROUPS: groups 1 to 8.
const maxGroups = 9

// LoadMap reads a regex map file in SEMS's format (the file SEMS calls
// "<name>.conf"): one regex=>value per line, blank lines and lines whose
// first non-blank character is '#' skipped.
func LoadMap(name, file string) (*RegexMap, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("regex map %q: %w", name, err)
	}
	m, err := ParseMap(name, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.File = file
	return m, nil
}

// ParseMap parses the text of a regex map file.
//
// As read_regex_mapping does, each line is split on "=>" with empty pieces
// dropped and must give exactly two pieces; the regex is POSIX extended
// (Go's CompilePOSIX: leftmost-longest, egrep syntax, so \d is refused as
// glibc's regcomp would not understand it either).
func ParseMap(name string, data []byte) (*RegexMap, error) {
	sum := sha256.Sum256(data)
	m := &RegexMap{Name: name, Checksum: hex.EncodeToString(sum[:])}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		entry := strings.TrimSuffix(sc.Text(), "\r")
		if entry == "" {
			continue
		}
		if t := strings.TrimLeft(entry, " \t"); t != "" && t[0] == '#' {
			continue
		}
		pieces := explode(entry, "=>")
		if len(pieces) != 2 {
			return nil, fmt.Errorf("regex map %q: line %d: %q: want regex=>value", name, line, entry)
		}
		re, err := regexp.CompilePOSIX(pieces[0])
		if err != nil {
			return nil, fmt.Errorf("regex map %q: line %d: %w", name, line, err)
		}
		e := mapEntry{re: re}
		e.value, e.maxRef = parseMapValue(pieces[1])
		m.entries = append(m.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("regex map %q: %w", name, err)
	}
	return m, nil
}

// explode is AmUtils.cpp's explode without keep_empty: pieces between
// separators, empty ones dropped.
func explode(s, sep string) []string {
	var out []string
	for {
		i := strings.Index(s, sep)
		piece := s
		if i >= 0 {
			piece = s[:i]
		}
		if piece != "" {
			out = append(out, piece)
		}
		if i < 0 {
			return out
		}
		s = s[i+len(sep):]
	}
}

// parseMapValue splits a value into literals and \N group references once,
// so a match costs no string scanning.
func parseMapValue(v string) ([]valuePart, int) {
	var parts []valuePart
	var lit strings.Builder
	maxRef := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			switch c := v[i+1]; {
			case c == '\\':
				lit.WriteByte('\\')
				i++
				continue
			case '1' <= c && c < '0'+maxGroups:
				if lit.Len() > 0 {
					parts = append(parts, valuePart{text: lit.String()})
					lit.Reset()
				}
				ref := int(c - '0')
				parts = append(parts, valuePart{ref: ref})
				maxRef = max(maxRef, ref)
				i++
				continue
			}
		}
		lit.WriteByte(v[i])
	}
	if lit.Len() > 0 {
		parts = append(parts, valuePart{text: lit.String()})
	}
	return parts, maxRef
}

// Map returns the value of the first entry whose regex matches key.
func (m *RegexMap) Map(key string) (string, bool) {
	b, ok := m.appendMapped(nil, key)
	return string(b), ok
}

// appendMapped appends the mapped value of key to dst.
func (m *RegexMap) appendMapped(dst []byte, key string) ([]byte, bool) {
	for i := range m.entries {
		e := &m.entries[i]
		if e.maxRef == 0 {
			if e.re.MatchString(key) {
				for _, p := range e.value {
					dst = append(dst, p.text...)
				}
				return dst, true
			}
			continue
		}
		loc := e.re.FindStringSubmatchIndex(key)
		if loc == nil {
			continue
		}
		// run_regex_mapping stops substituting at the first group that did
		// not take part in the match; later references stay as written.
		upto := maxGroups
		for g := 1; g < maxGroups; g++ {
			if 2*g >= len(loc) || loc[2*g] < 0 {
				upto = g
				break
			}
		}
		for _, p := range e.value {
			switch {
			case p.ref == 0:
				dst = append(dst, p.text...)
			case p.ref < upto:
				dst = append(dst, key[loc[2*p.ref]:loc[2*p.ref+1]]...)
			default:
				dst = append(dst, '\\', byte('0'+p.ref))
			}
		}
		return dst, true
	}
	return dst, false
}

// MapSet is the set of regex maps that patterns may name. It is immutable.
type MapSet struct {
	maps map[string]*RegexMap
}

// NewMapSet collects maps; two maps with one name are an error.
func NewMapSet(maps ...*RegexMap) (*MapSet, error) {
	s := &MapSet{maps: make(map[string]*RegexMap, len(maps))}
	for _, m := range maps {
		if _, dup := s.maps[m.Name]; dup {
			return nil, fmt.Errorf("regex map %q defined twice", m.Name)
		}
		s.maps[m.Name] = m
	}
	return s, nil
}

// Get returns the map called name, or nil (also on a nil set).
func (s *MapSet) Get(name string) *RegexMap {
	if s == nil {
		return nil
	}
	return s.maps[name]
}

// Maps returns the maps sorted by name, for listing with their checksums.
func (s *MapSet) Maps() []*RegexMap {
	if s == nil {
		return nil
	}
	out := make([]*RegexMap, 0, len(s.maps))
	for _, m := range s.maps {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
