package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// callPair runs a UAS with uasOpts, then a UAC with uacOpts aimed at it, and
// returns both once they have exited.
func callPair(t *testing.T, uasOpts, uacOpts SIPpOptions) (uas, uac *SIPp) {
	t.Helper()
	if uasOpts.Timeout == 0 {
		uasOpts.Timeout = 30 * time.Second
	}
	if uacOpts.Timeout == 0 {
		uacOpts.Timeout = 30 * time.Second
	}
	uas = StartSIPp(t, uasOpts)
	uacOpts.Remote = uas.Addr()
	uacOpts.Transport = uasOpts.Transport
	uac = StartSIPp(t, uacOpts)
	return uas, uac
}

func TestSIPpUACWithUAS(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			uas, uac := callPair(t,
				SIPpOptions{Scenario: "uas.xml", Calls: 3, Transport: transport},
				SIPpOptions{Scenario: "uac.xml", Calls: 3, Rate: 20, Service: "4420012345", Pause: 50 * time.Millisecond})
			st := uac.WaitSuccess(t, 3)
			if st.Created != 3 || st.UnexpectedMessages != 0 || st.Current != 0 || st.ExitCode != 0 {
				t.Errorf("uac stats: %s", st)
			}
			if st.Raw["OutgoingCall(C)"] != "3" {
				t.Errorf("OutgoingCall(C) = %q, want 3", st.Raw["OutgoingCall(C)"])
			}
			st = uas.WaitSuccess(t, 3)
			if st.Raw["IncomingCall(C)"] != "3" {
				t.Errorf("IncomingCall(C) = %q, want 3", st.Raw["IncomingCall(C)"])
			}
		})
	}
}

func TestSIPpEarlyMedia(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_183.xml", Calls: 1, Pause: 100 * time.Millisecond},
		SIPpOptions{Scenario: "uac.xml", Calls: 1})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
}

func TestSIPpCancel(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_noanswer.xml", Calls: 2},
		SIPpOptions{Scenario: "uac_cancel.xml", Calls: 2, Pause: 100 * time.Millisecond})
	uac.WaitSuccess(t, 2)
	uas.WaitSuccess(t, 2)
}

// TestSIPpNoAnswerWithoutRinging checks the ring key: with ring=0 the UAS
// sends only 100 Trying. The caller is uac_cancel.xml made to cancel after
// the 100, which it could not do if a 180 were required.
func TestSIPpNoAnswerWithoutRinging(t *testing.T) {
	t.Parallel()
	data, err := scenarioFS.ReadFile("scenarios/uac_cancel.xml")
	if err != nil {
		t.Fatal(err)
	}
	xml := string(data)
	for old, repl := range map[string]string{
		`<recv response="100" optional="true" response_txn="invite"/>`: ``,
		`<recv response="180" response_txn="invite"/>`:                 `<recv response="100" response_txn="invite"/>`,
	} {
		if !strings.Contains(xml, old) {
			t.Fatalf("uac_cancel.xml no longer contains %s", old)
		}
		xml = strings.Replace(xml, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "uac_cancel_after_100.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_noanswer.xml", Calls: 1, Keys: map[string]string{"ring": "0"}, Trace: true},
		SIPpOptions{Scenario: path, Calls: 1, Pause: 100 * time.Millisecond})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
	msgs, err := os.ReadFile(filepath.Join(uas.Dir(), "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msgs), "CANCEL sip:") || strings.Contains(string(msgs), "180 Ringing") {
		t.Errorf("with ring=0 the UAS should see a CANCEL and send no 180; its messages:\n%s", msgs)
	}
}

func TestSIPpReject(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_reject.xml", Calls: 1,
			Keys: map[string]string{"code": "503", "reason": "Service Unavailable"}},
		SIPpOptions{Scenario: "uac_reject.xml", Calls: 1, Keys: map[string]string{"expect": "503"}})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
}

// TestSIPpRejectWrongCode proves uac_reject.xml asserts the code: a 486 where
// 503 is expected fails the call.
func TestSIPpRejectWrongCode(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_reject.xml", Calls: 1},
		SIPpOptions{Scenario: "uac_reject.xml", Calls: 1, Keys: map[string]string{"expect": "503"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := uac.Wait(ctx)
	if err == nil || st.Failed != 1 || st.CheckFailed != 1 || st.ExitCode != 1 {
		t.Fatalf("want the call failed by the code check, got err %v, stats %s", err, st)
	}
	uas.WaitSuccess(t, 1)
}

func TestSIPpCalleeHangup(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_bye.xml", Calls: 1, Pause: 100 * time.Millisecond},
		SIPpOptions{Scenario: "uac_wait_bye.xml", Calls: 1})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
}

func TestSIPpCallerHold(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas.xml", Calls: 1},
		SIPpOptions{Scenario: "uac_hold.xml", Calls: 1, Pause: 50 * time.Millisecond})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
}

func TestSIPpCalleeHold(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas_hold.xml", Calls: 1, Pause: 50 * time.Millisecond},
		SIPpOptions{Scenario: "uac_wait_bye.xml", Calls: 1})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
}

// TestSIPpStopUAS runs a UAS with no call limit, as a switch test does, and
// ends it with Stop once it has seen its call.
func TestSIPpStopUAS(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas.xml"},
		SIPpOptions{Scenario: "uac.xml", Calls: 1})
	uac.WaitSuccess(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := uas.Await(ctx, func(st SIPpStats) bool { return st.Successful == 1 }); err != nil {
		t.Fatal(err)
	}
	uas.Stop()
	st, err := uas.Wait(ctx)
	if err != nil || st.Successful != 1 || st.Failed != 0 {
		t.Fatalf("stopped UAS: err %v, stats %s", err, st)
	}
}

// lateRingingUAS sends its 180 after the 200 (even after the ACK), as a
// switch relaying both from different goroutines may.
const lateRingingUAS = `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="200 overtakes 180">
  <recv request="INVITE">
    <action>
      <ereg regexp="[^ ].*" search_in="hdr" header="Via:" assign_to="via"/>
      <ereg regexp="[^ ].*" search_in="hdr" header="From:" assign_to="from"/>
      <ereg regexp="[^ ].*" search_in="hdr" header="To:" assign_to="to"/>
    </action>
  </recv>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]late[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
]]></send>
  <recv request="ACK"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
Via: [$via]
From: [$from]
To: [$to];tag=[pid]late[call_number]
Call-ID: [call_id]
CSeq: 1 INVITE
Content-Length: 0
]]></send>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
</scenario>
`

func TestSIPpLateRinging(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "late_180.xml")
	if err := os.WriteFile(path, []byte(lateRingingUAS), 0o644); err != nil {
		t.Fatal(err)
	}
	uas, uac := callPair(t,
		SIPpOptions{Scenario: path, Calls: 1},
		SIPpOptions{Scenario: "uac.xml", Calls: 1, Pause: 200 * time.Millisecond})
	uac.WaitSuccess(t, 1)
	uas.WaitSuccess(t, 1)
}

func TestSIPpScenariosEmbedded(t *testing.T) {
	t.Parallel()
	want := []string{"reg_auth_client.xml", "reg_auth_refused.xml", "reg_client.xml", "reg_out_of_order.xml",
		"reg_too_brief.xml", "registrar.xml", "registrar_auth.xml", "uac.xml", "uac_cancel.xml", "uac_hold.xml", "uac_reject.xml", "uac_wait_bye.xml",
		"uas.xml", "uas_183.xml", "uas_bye.xml", "uas_hold.xml", "uas_noanswer.xml", "uas_reject.xml"}
	got := strings.Join(SIPpScenarios(), " ")
	if got != strings.Join(want, " ") {
		t.Fatalf("SIPpScenarios() = %s", got)
	}
}

func TestParseSIPpStats(t *testing.T) {
	t.Parallel()
	header := strings.Split("StartTime;ElapsedTime(C);CallRate(C);TotalCallCreated;CurrentCall;"+
		"SuccessfulCall(C);FailedCall(C);Retransmissions(C);FailedUnexpectedMessage(C);"+
		"FailedTimeoutOnRecv(C);FailedMaxUDPRetrans(C);FailedRegexpDoesntMatch(C);"+
		"FailedRegexpShouldntMatch(C);FailedRegexpHdrNotFound(C);FailedTestDoesntMatch(C);"+
		"FailedTestShouldntMatch(C);FailedStrcmpDoesntMatch(C);FailedStrcmpShouldntMatch(C);"+
		"OutOfCallMsgs(C);DeadCallMsgs(C);AutoAnswered(C);FatalErrors(C);", ";")
	row := strings.Split("2026-11-22\t21:48:44.113691\t1795384124.113691;01:02:03;9.5;10;1;7;2;4;1;"+
		"0;0;1;0;0;1;0;0;0;3;2;5;0;", ";")
	st, err := parseSIPpStats(header, row)
	if err != nil {
		t.Fatal(err)
	}
	if st.Created != 10 || st.Current != 1 || st.Successful != 7 || st.Failed != 2 ||
		st.Retransmissions != 4 || st.UnexpectedMessages != 1 || st.CheckFailed != 2 ||
		st.OutOfCallMsgs != 3 || st.DeadCallMsgs != 2 || st.AutoAnswered != 5 ||
		st.CallRate != 9.5 || st.Elapsed != time.Hour+2*time.Minute+3*time.Second {
		t.Fatalf("parsed %+v", st)
	}
	if _, err := parseSIPpStats(header[:3], row[:3]); err == nil {
		t.Fatal("a row without the counters parsed")
	}
}

func TestReadSIPpStatsSkipsPartialRow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "stats.csv")
	full := "TotalCallCreated;CurrentCall;SuccessfulCall(C);FailedCall(C);Retransmissions(C);" +
		"FailedUnexpectedMessage(C);FailedTimeoutOnRecv(C);FailedMaxUDPRetrans(C);" +
		"FailedRegexpDoesntMatch(C);FailedRegexpShouldntMatch(C);FailedRegexpHdrNotFound(C);" +
		"FailedTestDoesntMatch(C);FailedTestShouldntMatch(C);FailedStrcmpDoesntMatch(C);" +
		"FailedStrcmpShouldntMatch(C);OutOfCallMsgs(C);DeadCallMsgs(C);AutoAnswered(C);" +
		"FatalErrors(C);CallRate(C);ElapsedTime(C);\n" +
		"5;0;5;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;1.5;00:00:02;\n" +
		"6;1;5;0;0;0;0;0;0;0;0;0;0;0;0;0;" // being written
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := ReadSIPpStats(path)
	if err != nil || st.Created != 5 || st.Elapsed != 2*time.Second {
		t.Fatalf("got %s, %v", st, err)
	}
	if _, err := ReadSIPpStats(filepath.Join(t.TempDir(), "none.csv")); err == nil {
		t.Fatal("a missing file gave statistics")
	}
	header := filepath.Join(t.TempDir(), "header.csv")
	if err := os.WriteFile(header, []byte(strings.SplitN(full, "\n", 2)[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSIPpStats(header); !errors.Is(err, errNoStats) {
		t.Fatalf("header only: err = %v", err)
	}
}

func FuzzParseSIPpClock(f *testing.F) {
	for _, s := range []string{"00:00:04", "00:00:04:012000", "1:2", "", "-1:00:00", "99:99:99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSIPpClock(s)
		if err == nil && d < 0 {
			t.Fatalf("%q parsed to negative %v", s, d)
		}
	})
}

func FuzzParseSIPpStats(f *testing.F) {
	f.Add("TotalCallCreated;CurrentCall;CallRate(C);ElapsedTime(C);", "1;0;2.5;00:00:01;")
	f.Add("a;b", "1;2")
	f.Fuzz(func(t *testing.T, header, row string) {
		h, r := strings.Split(header, ";"), strings.Split(row, ";")
		if len(h) != len(r) {
			return
		}
		st, _ := parseSIPpStats(h, r)
		if len(st.Raw) > len(h) {
			t.Fatalf("%d raw columns from %d headers", len(st.Raw), len(h))
		}
	})
}

// inDialogUAC builds a caller that exercises every in-dialog request uas.xml
// must answer, checking each SDP answer's direction.
func inDialogUAC() string {
	sdp := func(version int, dir string) string {
		return fmt.Sprintf(`Content-Type: application/sdp
Content-Length: [len]

v=0
o=- [pid][call_number] %d IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=%s
`, version, dir)
	}
	req := func(method string, cseq int, body string) string {
		ruri, to := "[next_url]", "<sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]"
		if cseq == 1 {
			ruri, to = "sip:[service]@[remote_ip]:[remote_port]", "<sip:[service]@[remote_ip]:[remote_port]>"
		}
		if body == "" {
			body = "Content-Length: 0\n"
		}
		return fmt.Sprintf(`  <send retrans="500"><![CDATA[
%s %s SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]dlg[call_number]
To: %s
Call-ID: [call_id]
CSeq: %d %s
Contact: <sip:[caller]@[local_ip]:[local_port]>
Max-Forwards: 70
%s]]></send>
`, method, ruri, to, cseq, method, body)
	}
	ack := func(cseq int) string {
		return strings.Replace(req("ACK", cseq, ""), `<send retrans="500">`, `<send>`, 1)
	}
	answer := func(re string) string {
		return fmt.Sprintf(`  <recv response="200" rrs="true"><action>
    <ereg regexp="%s" search_in="body" check_it="true" assign_to="dir"/>
  </action></recv>
`, re)
	}
	plain := `  <recv response="200"/>
`
	return `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="in-dialog requests">
` + req("INVITE", 1, sdp(1, "sendrecv")) + `  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
` + answer("a=sendrecv") + ack(1) +
		req("INFO", 2, "") + plain +
		req("OPTIONS", 3, "") + plain +
		req("UPDATE", 4, sdp(2, "sendonly")) + answer("a=recvonly") +
		req("UPDATE", 5, "") + plain +
		req("INVITE", 6, sdp(3, "inactive")) + answer("a=inactive") + ack(6) +
		req("INVITE", 7, sdp(4, "recvonly")) + answer("a=sendonly") + ack(7) +
		req("INVITE", 8, sdp(5, "sendrecv")) + answer("a=sendrecv") + ack(8) +
		req("BYE", 9, "") + plain + `
  <Reference variables="dir"/>
</scenario>
`
}

func TestSIPpUASAnswersInDialogRequests(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "in_dialog.xml")
	if err := os.WriteFile(path, []byte(inDialogUAC()), 0o644); err != nil {
		t.Fatal(err)
	}
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas.xml", Calls: 1},
		SIPpOptions{Scenario: path, Calls: 1})
	uac.WaitSuccess(t, 1)
	if st := uas.WaitSuccess(t, 1); st.AutoAnswered != 0 {
		t.Errorf("uas.xml left %d requests to -aa: %s", st.AutoAnswered, st)
	}
}

// TestSIPpRejectUnsupportedCode checks that a code uas_reject.xml cannot send
// stops SIPp loudly instead of leaving the caller waiting.
func TestSIPpRejectUnsupportedCode(t *testing.T) {
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas_reject.xml", Calls: 1, Keys: map[string]string{"code": "299"}})
	uac := StartSIPp(t, SIPpOptions{Scenario: "uac_reject.xml", Remote: uas.Addr(), Calls: 1, Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := uas.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "code=299 is not a supported status code") {
		t.Fatalf("want SIPp stopped on code 299, got err %v, stats %s", err, st)
	}
	uac.Stop()
}

// TestSIPpTimeoutIsAnError checks that a SIPp ended by its -timeout, here a
// caller waiting for a BYE nobody sends, is reported as an error.
func TestSIPpTimeoutIsAnError(t *testing.T) {
	t.Parallel()
	uas, uac := callPair(t,
		SIPpOptions{Scenario: "uas.xml"},
		SIPpOptions{Scenario: "uac_wait_bye.xml", Calls: 1, Timeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := uac.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "-timeout") {
		t.Fatalf("want a timeout error, got err %v, stats %s", err, st)
	}
	uas.Stop()
}

// TestSIPpUASAbsorbsRetransmittedINVITE sends uas.xml an INVITE again, byte
// for byte, after its 200 and before the ACK, as a caller whose Timer A
// fired before it read the answer does (RFC 3261 17.1.1.2). The UAS must
// absorb it, go on retransmitting its 200 (RFC 3261 13.3.1.4) and finish the
// call on the ACK and BYE, not abort it as an unexpected message.
func TestSIPpUASAbsorbsRetransmittedINVITE(t *testing.T) {
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas.xml", Calls: 1, Timeout: 30 * time.Second})
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dst, err := net.ResolveUDPAddr("udp4", uas.Addr())
	if err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().String()
	request := func(method, branch string, seq int, toTag, body string) []byte {
		to := "<sip:service@" + uas.Addr() + ">"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		m := method + " sip:service@" + uas.Addr() + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + branch + "\r\n" +
			"From: <sip:caller@" + local + ">;tag=retrans\r\nTo: " + to + "\r\n" +
			"Call-ID: retransmitted-invite@127.0.0.1\r\nCSeq: " + strconv.Itoa(seq) + " " + method + "\r\n" +
			"Contact: <sip:caller@" + local + ">\r\nMax-Forwards: 70\r\n"
		if body == "" {
			return []byte(m + "Content-Length: 0\r\n\r\n")
		}
		return []byte(m + "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}
	send := func(msg []byte) {
		t.Helper()
		if _, err := conn.WriteTo(msg, dst); err != nil {
			t.Fatal(err)
		}
	}
	// await returns the next response with code to cseq, skipping others.
	await := func(code int, cseq string) string {
		t.Helper()
		buf := make([]byte, 65535)
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no %d to %s: %v", code, cseq, err)
			}
			msg := string(buf[:n])
			if strings.HasPrefix(msg, "SIP/2.0 "+strconv.Itoa(code)+" ") && strings.Contains(msg, "\r\nCSeq: "+cseq+"\r\n") {
				return msg
			}
		}
	}
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
	invite := request("INVITE", "inv1", 1, "", sdp)
	send(invite)
	ok := await(200, "1 INVITE")
	_, after, _ := strings.Cut(ok, "\r\nTo: ")
	to, _, _ := strings.Cut(after, "\r\n")
	_, toTag, found := strings.Cut(to, ";tag=")
	if !found {
		t.Fatalf("200 without a To tag: %q", ok)
	}
	send(invite)
	await(200, "1 INVITE")
	send(request("ACK", "inv1", 1, toTag, ""))
	send(request("BYE", "bye2", 2, toTag, ""))
	await(200, "2 BYE")
	if st := uas.WaitSuccess(t, 1); st.UnexpectedMessages != 0 {
		t.Errorf("uas: %s", st)
	}
}
