package aaa

// SIPStatus is a final SIP response: code and reason phrase.
type SIPStatus struct {
	Code   int
	Reason string
}

// ReturnCodes maps h323-return-code values to the SIP response the caller
// gets. Operators override entries from configuration.
type ReturnCodes map[int]SIPStatus

// DefaultReturnCodes is the Cisco return-code table as Tollgate answers it.
func DefaultReturnCodes() ReturnCodes {
	return ReturnCodes{
		1:  {403, "Invalid Account"},
		2:  {403, "Invalid Password"},
		3:  {486, "Account In Use"},
		4:  {402, "Zero Balance"},
		5:  {403, "Account Expired"},
		6:  {402, "Credit Limit Reached"},
		7:  {403, "Denied"},
		9:  {403, "Number Blocked"},
		12: {402, "Insufficient Balance"},
	}
}

// Lookup returns the response for code; a code the table lacks is refused
// with 403.
func (m ReturnCodes) Lookup(code int) SIPStatus {
	if s, ok := m[code]; ok {
		return s
	}
	return SIPStatus{403, "Forbidden"}
}
