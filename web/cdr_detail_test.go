package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// TestCDRDetailRADIUSAndMedia: the detail page shows what RADIUS said, the
// accounting records, the RTP counters of each direction and every
// attempt; a call without RADIUS says so; the API returns the same.
func TestCDRDetailRADIUSAndMedia(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	accepted := testRecord(1, now.Add(-2*time.Minute))
	accepted.RADIUS = cdr.RADIUS{Auth: cdr.AuthAccept, AuthMethod: cdr.AuthByDigest, Server: "192.0.2.7:1812", ReturnCode: 0,
		Latency: 640 * time.Microsecond, AcctStarts: 2, AcctInterims: 4, AcctStops: 3, AcctQueued: 12}
	accepted.MediaRelay = "builtin"
	accepted.RTPAtoB = cdr.RTPStats{Packets: cdr.Known(2900), Bytes: cdr.Known(498800), Lost: cdr.Known(7), Jitter: cdr.KnownDuration(2500 * time.Microsecond),
		RTT: cdr.KnownDuration(41500 * time.Microsecond)}
	accepted.RTPBtoA = cdr.RTPStats{Packets: cdr.Known(2875), Bytes: cdr.Known(494500), Lost: cdr.Known(0), Jitter: cdr.KnownDuration(1200 * time.Microsecond)}
	accepted.EstimateQuality()
	accepted.Attempts = append([]cdr.Attempt{{Gateway: "127.0.0.1:5090", CallID: "b0", Start: accepted.SetupTime,
		End: accepted.SetupTime.Add(time.Second), SIPCode: 503, SIPReason: "Service Unavailable"}}, accepted.Attempts...)
	rejected := testRecord(2, now.Add(-time.Minute))
	rejected.RADIUS = cdr.RADIUS{Auth: cdr.AuthReject, AuthMethod: cdr.AuthByIP, Server: "192.0.2.7:1812", ReturnCode: 4, Latency: 3 * time.Millisecond}
	unanswered := testRecord(4, now.Add(-30*time.Second))
	unanswered.RADIUS = cdr.RADIUS{Auth: cdr.AuthError, AuthMethod: cdr.AuthByIP, ReturnCode: -1, Latency: 6 * time.Second}
	plain := testRecord(5, now)
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), []cdr.Record{accepted, rejected, unanswered, plain}); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	check := func(rec cdr.Record, wants ...string) {
		t.Helper()
		p := v.get("/cdrs/" + rec.ID)
		if p.StatusCode != 200 {
			t.Fatalf("detail of %s = %d", rec.ID, p.StatusCode)
		}
		for _, w := range wants {
			if !strings.Contains(p.body, w) {
				t.Errorf("detail of %s lacks %q", rec.CallerNumber, w)
			}
		}
	}
	check(accepted, `id="radius"`, `<span class="state ok">accept</span> by SIP digest`, "192.0.2.7:1812", "640µs",
		"<dt>h323-return-code</dt><dd>0</dd>", "2 Start · 4 Interim-Update · 3 Stop", "12 records of all calls waiting",
		"via builtin", "<td>A → B</td><td class=\"num\">2900</td><td class=\"num\">498800</td><td class=\"num\">7</td><td class=\"num\">2.5ms</td><td class=\"num\">41.5ms</td><td class=\"num\">4.37</td>",
		"<td>B → A</td><td class=\"num\">2875</td>", "<td class=\"num\">1.2ms</td><td class=\"num\"></td><td class=\"num\">4.39</td>", "127.0.0.1:5090", "Service Unavailable", `<span class="code ok">200</span>`)
	check(rejected, `<span class="state warn">reject</span> by source IP`, "<dt>h323-return-code</dt><dd>4</dd>", "3ms",
		"0 Start · 0 Interim-Update · 0 Stop")
	check(unanswered, `<span class="state bad">error</span>`, "no server", `<span class="muted">none</span>`, "6s")
	check(plain, "RADIUS neither authorised nor accounted this call.")

	var one cdr.Record
	if err := json.Unmarshal([]byte(v.get("/api/v1/cdrs/"+accepted.ID).body), &one); err != nil || one.RADIUS != accepted.RADIUS ||
		one.RTPAtoB != accepted.RTPAtoB || len(one.Attempts) != 2 {
		t.Fatalf("detail API: %v %+v", err, one)
	}
	var raw map[string]any
	json.Unmarshal([]byte(v.get("/api/v1/cdrs/"+rejected.ID).body), &raw)
	if r, _ := raw["radius"].(map[string]any); r["auth"] != "reject" || r["return_code"] != float64(4) || r["auth_method"] != "ip" {
		t.Fatalf("detail API's radius object: %v", raw["radius"])
	}
}
