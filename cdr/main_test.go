package cdr

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

// testID returns a distinct UUID for i.
func testID(i int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
}

// fullRecord fills every field, with awkward text, so round trips are real.
func fullRecord(i int) Record {
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return Record{
		ID:             testID(i),
		ConfID:         fmt.Sprintf("A1B2C3D4 %08X 11223344 55667788", i),
		CallIDA:        fmt.Sprintf("a-%d@10.0.0.1", i),
		CallIDB:        fmt.Sprintf("b-%d@tollgate", i),
		CallerNumber:   fmt.Sprintf("4420%07d", i),
		CallerName:     "O'Brien, \"Zoë\" – 東京\nsecond line",
		CalledReceived: "0044207946" + fmt.Sprint(i%10),
		CalledSent:     "44207946" + fmt.Sprint(i%10),
		SourceIP:       "192.0.2.17",
		SourcePort:     5060,
		Account:        "acct-7",
		Route:          "4420",
		Gateway:        "gw-b",
		Attempts: []Attempt{
			{Gateway: "gw-a", CallID: "b1@x", Start: base.Add(100 * time.Millisecond), End: base.Add(900 * time.Millisecond), SIPCode: 503, SIPReason: "Service Unavailable"},
			{Gateway: "gw-b", CallID: "b2@x", Start: base.Add(time.Second), End: base.Add(3 * time.Second), SIPCode: 200, SIPReason: "OK", Ringing: true, Answered: true},
		},
		SetupTime:        base,
		RingingTime:      base.Add(1500 * time.Millisecond),
		ConnectTime:      base.Add(3 * time.Second),
		DisconnectTime:   base.Add(63*time.Second + 250*time.Millisecond),
		Duration:         60*time.Second + 250*time.Millisecond,
		BilledSeconds:    61,
		PostDialDelay:    1500 * time.Millisecond,
		SIPCode:          200,
		SIPReason:        "OK",
		Q850Cause:        16,
		ReleasedBy:       ReleasedByCallee,
		DisconnectReason: ReasonNormal,
		CreditGranted:    3600 * time.Second,
		CodecA:           "PCMA",
		CodecB:           "G729",
		MediaRelay:       "builtin",
		RTPAtoB: RTPStats{Packets: Known(3000), Bytes: Known(516000), Lost: Known(3), Jitter: KnownDuration(2500 * time.Microsecond),
			RTT: KnownDuration(41500 * time.Microsecond), MOS: Maybe[float64]{V: 4.36, Known: true}},
		RTPBtoA: RTPStats{Packets: Known(2990), Bytes: Known(514280), Lost: Known(0), Jitter: KnownDuration(1200 * time.Microsecond),
			MOS: Maybe[float64]{V: 4.39, Known: true}},
		UserAgentA: "Linphone/5.2 (\"quoted\", comma)",
		UserAgentB: "Cisco-SIPGateway/IOS-15.x",
	}
}
