package sdpedit

import (
	"errors"
	"fmt"
)

// ErrMalformed is matched (errors.Is) by every error Parse returns: the
// B2BUA answers it with 488 Not Acceptable Here.
var ErrMalformed = errors.New("sdp: malformed")

// What was wrong with a malformed SDP; each also matches ErrMalformed.
var (
	ErrNoVersion     = errors.New("sdp: no v= line first")
	ErrNoMedia       = errors.New("sdp: no m= line")
	ErrBadMedia      = errors.New("sdp: malformed m= line")
	ErrBadConnection = errors.New("sdp: malformed c= line")
	ErrNoConnection  = errors.New("sdp: active stream without a c= line")
)

// ErrNoCodec is returned by a codec filter that would leave an active stream
// without a codec; the SDP is left unchanged and the B2BUA answers 488.
var ErrNoCodec = errors.New("sdp: no codec left on a stream")

// ErrNoStream is returned when an edit names a stream the SDP does not have.
var ErrNoStream = errors.New("sdp: no such stream")

// ParseError says which line of a malformed SDP was rejected and why.
type ParseError struct {
	Line int    // 0-based line number
	Text string // the offending line, truncated
	Err  error  // one of the ErrXxx above
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%v (line %d: %q)", e.Err, e.Line+1, e.Text)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Is makes every ParseError match ErrMalformed.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }

func parseErr(i int, text string, err error) error {
	if len(text) > 80 {
		text = text[:80]
	}
	return &ParseError{Line: i, Text: text, Err: err}
}
