package profile

import "testing"

func benchExpand(b *testing.B, src string) {
	r := testRequest(b)
	maps := mustMaps(b,
		mustMap(b, "ipmap", "^10\\..*=>internal\n^192\\.0\\.2\\.(.*)=>lab\\1\n"),
	)
	p, err := CompileOption("bench", "opt", src, maps)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Expand(r)
	}
}

func BenchmarkExpandLiteral(b *testing.B)  { benchExpand(b, "refuse") }
func BenchmarkExpandRURIUser(b *testing.B) { benchExpand(b, "$rU") }
func BenchmarkExpandHeader(b *testing.B)   { benchExpand(b, "$H(P-Caller-Uuid)") }
func BenchmarkExpandRURI(b *testing.B)     { benchExpand(b, "sip:$rU@$fh;user=phone") }
func BenchmarkExpandFromPAI(b *testing.B)  { benchExpand(b, `"$fn" <sip:$aU@$rd>`) }
func BenchmarkExpandAppend(b *testing.B) {
	benchExpand(b, `P-Source-IP: $si\r\nP-Source-Port: $sp\r\n`)
}
func BenchmarkExpandModifiers(b *testing.B) { benchExpand(b, "$_u($fh)-$_s($fU)-$_5($ci)") }
func BenchmarkExpandRegexMap(b *testing.B)  { benchExpand(b, "$M($si=>ipmap)") }

// BenchmarkFromSIP is the per-INVITE cost of building the Request that
// every pattern of the call then reads.
func BenchmarkFromSIP(b *testing.B) {
	req := parseInvite(b, testInvite)
	b.ReportAllocs()
	for b.Loop() {
		_ = FromSIP(req, testLocal)
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`"$fn" <sip:$_l($aU)@$rd;user=phone>\r\nX: $H(P-Caller-Uuid)`); err != nil {
			b.Fatal(err)
		}
	}
}
