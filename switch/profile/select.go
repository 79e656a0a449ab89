package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
)

// Selector is one entry of the ordered list that picks a call's profile
// (SEMS's active_profile): a fixed name ("refuse"), any pattern ("$rU",
// "$H(P-SBCProfile)", "$M($si=>ipmap)"), or one of SEMS's two legacy forms
// "$(ruri.user)" and "$(paramhdr)" (the "profile" key of P-App-Param).
type Selector struct {
	rule string
	pat  *Pattern
}

// The legacy forms SEMS's getActiveProfileMatch tests for by string.
var legacySelectors = map[string]string{
	"$(ruri.user)": "$rU",
	"$(paramhdr)":  "$P(profile)",
}

// CompileSelectors compiles a selector list; an error's Option is the
// selector's place in the list, written like a config path ("selectors[1]").
func CompileSelectors(rules []string, maps *MapSet) ([]Selector, error) {
	out := make([]Selector, 0, len(rules))
	for i, rule := range rules {
		src := rule
		if alias, ok := legacySelectors[rule]; ok {
			src = alias
		}
		p, err := CompileOption("", fmt.Sprintf("selectors[%d]", i), src, maps)
		if err != nil {
			return nil, err
		}
		out = append(out, Selector{rule: rule, pat: p})
	}
	return out, nil
}

// String returns the selector as written.
func (s Selector) String() string { return s.rule }

// Eval returns the profile name this selector gives for r ("" for none).
func (s Selector) Eval(r *Request) string { return s.pat.Expand(r) }

// Select evaluates sels in order and returns the first non-empty result and
// the selector that gave it, as SEMS's getActiveProfileMatch does.
func Select(sels []Selector, r *Request) (name, rule string) {
	for _, s := range sels {
		if s.rule == "" {
			continue
		}
		if name = s.Eval(r); name != "" {
			return name, s.rule
		}
	}
	return "", ""
}

// Checksum is the checksum shown for a loaded profile: the hex SHA-256 of
// its source text. (SEMS prints an MD5; SHA-256 is what Tollgate shows.)
func Checksum(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// Entry is one loaded profile with what the operator sees on reload.
type Entry[P any] struct {
	Name     string
	Profile  P
	Origin   string // the file it came from, or where in the config
	Checksum string // Checksum of its source text
}

// ErrNoProfile means no selector gave a profile name: SEMS answers such a
// call with 500.
var ErrNoProfile = errors.New("profile: no selector matched")

// UnknownProfileError is a selector that gave a name no profile has.
type UnknownProfileError struct {
	Name string // the name the selector produced
	Rule string // the selector
}

func (e *UnknownProfileError) Error() string {
	return fmt.Sprintf("profile: selector %q chose %q, which is not loaded", e.Rule, e.Name)
}

// Set is the profiles, the selectors and the regex maps loaded together.
// It is immutable: a reload builds a new Set and swaps it in (an
// atomic.Pointer), so calls in progress keep the Set they started with.
type Set[P any] struct {
	selectors []Selector
	maps      *MapSet
	entries   []Entry[P] // sorted by name
	byName    map[string]int
}

// NewSet checks the parts against each other: profile names are unique and
// every selector that is a fixed name names a loaded profile (SEMS finds
// out only when a call arrives).
func NewSet[P any](selectors []Selector, maps *MapSet, entries ...Entry[P]) (*Set[P], error) {
	if len(selectors) == 0 {
		return nil, errors.New("profile: no selectors: every call would be refused")
	}
	s := &Set[P]{
		selectors: selectors,
		maps:      maps,
		entries:   append([]Entry[P](nil), entries...),
		byName:    make(map[string]int, len(entries)),
	}
	sort.SliceStable(s.entries, func(i, j int) bool { return s.entries[i].Name < s.entries[j].Name })
	for i, e := range s.entries {
		if e.Name == "" {
			return nil, errors.New("profile: a profile has no name")
		}
		if _, dup := s.byName[e.Name]; dup {
			return nil, fmt.Errorf("profile: %q defined twice", e.Name)
		}
		s.byName[e.Name] = i
	}
	for i, sel := range selectors {
		if name, ok := sel.pat.Literal(); ok && name != "" {
			if _, found := s.byName[name]; !found {
				return nil, fmt.Errorf("profile: selectors[%d] (%q) names profile %q, which is not defined", i, sel.rule, name)
			}
		}
	}
	return s, nil
}

// Select picks the profile for r: the first selector with a non-empty
// result decides, and a name that is not loaded is an error rather than a
// fall-through to the next selector, as in SEMS.
func (s *Set[P]) Select(r *Request) (*Entry[P], string, error) {
	name, rule := Select(s.selectors, r)
	if name == "" {
		return nil, "", ErrNoProfile
	}
	i, ok := s.byName[name]
	if !ok {
		return nil, rule, &UnknownProfileError{Name: name, Rule: rule}
	}
	return &s.entries[i], rule, nil
}

// Get returns the profile called name.
func (s *Set[P]) Get(name string) (*Entry[P], bool) {
	i, ok := s.byName[name]
	if !ok {
		return nil, false
	}
	return &s.entries[i], true
}

// Entries returns the loaded profiles sorted by name, with their checksums.
func (s *Set[P]) Entries() []Entry[P] { return append([]Entry[P](nil), s.entries...) }

// Selectors returns the selector list in evaluation order.
func (s *Set[P]) Selectors() []Selector { return append([]Selector(nil), s.selectors...) }

// Maps returns the regex maps the set's patterns were compiled against.
func (s *Set[P]) Maps() *MapSet { return s.maps }
