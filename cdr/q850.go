package cdr

// q850BySIP is Sippy B2BUA's SIP final code → Q.850 cause table (the
// RFC 3398 direction). It lives here, beside the record's Q850Cause, so that
// the CDR and RADIUS's h323-disconnect-cause can never disagree.
var q850BySIP = map[int]int{
	401: 57, 402: 21, 403: 57, 404: 1, 407: 21, 408: 102,
	409: 41, 410: 1, 415: 79, 480: 18, 484: 28, 485: 1,
	486: 17, 487: 18, 500: 41, 501: 79, 502: 38, 503: 63,
	504: 102, 580: 47, 600: 17, 603: 21, 604: 1, 606: 58,
}

// Q.850 causes with names of their own.
const (
	CauseNormalClearing = 16
	CauseOther          = 127
)

// Q850Cause maps the SIP final code that ended a call or leg to a Q.850
// cause, so that billing sees the cause a TDM switch would report. Below 200
// (a leg ended by BYE, CANCEL or a timer) and 2xx (an answered call, ended
// later by a BYE or a timer) are normal clearing, as in Sippy B2BUA; a
// redirect is 0; failures go by the table, 127 when it has no entry.
func Q850Cause(sipCode int) int {
	switch {
	case sipCode < 300:
		return CauseNormalClearing
	case sipCode < 400:
		return 0
	}
	if c, ok := q850BySIP[sipCode]; ok {
		return c
	}
	return CauseOther
}
