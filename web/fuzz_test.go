package web

import (
	"net/url"
	"testing"
)

// FuzzParseCDRQuery feeds arbitrary query strings to the CDR search
// parameters: they must never panic, and what they accept must be in range.
func FuzzParseCDRQuery(f *testing.F) {
	for _, s := range []string{"", "code=486&limit=10", "from=2026-01-02T03:04&to=2026-01-03", "cursor=MTIzLzAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMQ",
		"called=44%25_&caller=1", "limit=-1", "from=2026-13-45"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		cq, err := parseCDRQuery(q)
		if err != nil {
			return
		}
		if cq.Page.Limit < 0 || cq.Page.Limit > 1000 || (cq.Filter.SIPCode != 0 && (cq.Filter.SIPCode < 100 || cq.Filter.SIPCode > 699)) {
			t.Fatalf("accepted out of range: %+v", cq)
		}
		if cq.Page.Cursor != "" && !validCursor(cq.Page.Cursor) {
			t.Fatalf("accepted cursor %q", cq.Page.Cursor)
		}
	})
}
