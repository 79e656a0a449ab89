package cdr

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-json"
)

// csvRows writes CDRs as CSV rows (RFC 4180, CRLF) into one buffer, reused
// from batch to batch: the bytes encoding/csv's Writer (UseCRLF) writes for
// the row of cells that csvRow made, which FuzzCSVRow holds the two to,
// without a string per cell. The CSV files write every record of a switch
// without a database; the row of strings, csv.Writer and time.Format cost
// the shipper ~3 kB of garbage per record.
type csvRows struct {
	b        []byte // the rows
	attempts []byte // the attempts cell of the row being written, as JSON
}

// CSV cells: times in UTC RFC 3339 with milliseconds (empty when the call
// never reached that point), durations in milliseconds, attempts as JSON.
const csvTime = "2006-01-02T15:04:05.000Z07:00"

// header appends the header row, the column names.
func (w *csvRows) header() {
	for i, name := range columns {
		w.sep(i)
		w.b = appendCSVField(w.b, name, plainCell)
	}
	w.b = append(w.b, '\r', '\n')
}

// sep appends the comma before every cell but a row's first.
func (w *csvRows) sep(i int) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
}

// row appends rec's row, its cells in the order of columns.
func (w *csvRows) row(rec *Record) {
	w.b = appendCSVField(w.b, rec.ID, plainCell)
	w.text(rec.ConfID)
	w.text(rec.CallIDA)
	w.text(rec.CallIDB)
	w.text(rec.CallerNumber)
	w.text(rec.CallerName)
	w.text(rec.CalledReceived)
	w.text(rec.CalledSent)
	w.text(rec.SourceIP)
	w.int(int64(rec.SourcePort))
	w.text(rec.Account)
	w.text(rec.Route)
	w.text(rec.Gateway)
	w.int(int64(len(rec.Attempts)))
	w.attemptsCell(rec.Attempts)
	w.time(rec.SetupTime)
	w.time(rec.RingingTime)
	w.time(rec.ConnectTime)
	w.time(rec.DisconnectTime)
	w.int(ms(rec.Duration))
	w.int(int64(rec.BilledSeconds))
	w.int(ms(rec.PostDialDelay))
	w.int(int64(rec.SIPCode))
	w.text(rec.SIPReason)
	w.int(int64(rec.Q850Cause))
	w.text(rec.ReleasedBy)
	w.text(rec.DisconnectReason)
	w.int(ms(rec.CreditGranted))
	w.text(rec.CodecA)
	w.text(rec.CodecB)
	w.text(rec.MediaRelay)
	w.rtp(&rec.RTPAtoB)
	w.rtp(&rec.RTPBtoA)
	w.text(rec.UserAgentA)
	w.text(rec.UserAgentB)
	w.radius(&rec.RADIUS)
	w.text(rec.Node)
	w.quality(&rec.RTPAtoB)
	w.quality(&rec.RTPBtoA)
	w.b = append(w.b, '\r', '\n')
}

func (w *csvRows) rtp(s *RTPStats) {
	w.count(s.Packets)
	w.count(s.Bytes)
	w.count(s.Lost)
	w.micros(s.Jitter)
}

// quality appends the figures added in migration 00012, after the others.
func (w *csvRows) quality(s *RTPStats) {
	w.micros(s.RTT)
	w.mos(s.MOS)
}

func (w *csvRows) radius(r *RADIUS) {
	w.text(r.Auth)
	w.text(r.AuthMethod)
	w.text(r.Server)
	w.int(int64(r.ReturnCode))
	w.int(r.Latency.Microseconds())
	w.int(int64(r.AcctStarts))
	w.int(int64(r.AcctInterims))
	w.int(int64(r.AcctStops))
	w.int(int64(r.AcctQueued))
}

// text appends a text cell, defused (csvCell).
func (w *csvRows) text(s string) {
	w.b = appendCSVField(append(w.b, ','), s, textCell)
}

// Numbers and times need no quoting: they hold no comma, quote or line
// end, and never start with a space.

func (w *csvRows) int(v int64) { w.b = strconv.AppendInt(append(w.b, ','), v, 10) }

func (w *csvRows) time(t time.Time) {
	w.b = append(w.b, ',')
	if !t.IsZero() {
		w.b = appendCSVTime(w.b, t)
	}
}

// appendCSVTime appends t in UTC as csvTime lays it out, by hand for the
// years of four digits: time's layout interpreter took a third of a row's
// time, for eight times a row.
func appendCSVTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, csvTime)
	}
	hour, minute, sec := t.Clock()
	dst = appendDigits(dst, year, 4)
	dst = appendDigits(append(dst, '-'), int(month), 2)
	dst = appendDigits(append(dst, '-'), day, 2)
	dst = appendDigits(append(dst, 'T'), hour, 2)
	dst = appendDigits(append(dst, ':'), minute, 2)
	dst = appendDigits(append(dst, ':'), sec, 2)
	dst = appendDigits(append(dst, '.'), t.Nanosecond()/int(time.Millisecond), 3)
	return append(dst, 'Z')
}

// appendDigits appends v, not negative, as width digits at least.
func appendDigits(dst []byte, v, width int) []byte {
	var digits [20]byte
	i := len(digits)
	for ; v > 0 || i > len(digits)-width; v /= 10 {
		i--
		digits[i] = byte('0' + v%10)
	}
	return append(dst, digits[i:]...)
}

// Unknown figures are empty cells, as NULL is in the database.

func (w *csvRows) count(m Maybe[uint64]) {
	w.b = append(w.b, ',')
	if m.Known {
		w.b = strconv.AppendUint(w.b, m.V, 10)
	}
}

func (w *csvRows) micros(m Maybe[time.Duration]) {
	w.b = append(w.b, ',')
	if m.Known {
		w.b = strconv.AppendInt(w.b, m.V.Microseconds(), 10)
	}
}

func (w *csvRows) mos(m Maybe[float64]) {
	w.b = append(w.b, ',')
	if m.Known {
		w.b = strconv.AppendFloat(w.b, m.V, 'f', 2, 64)
	}
}

// attemptsCell appends the attempts as the JSON the database's attempts
// column holds (cleanAttempts), a text cell.
func (w *csvRows) attemptsCell(as []Attempt) {
	w.attempts = attemptsJSON(w.attempts[:0], as)
	w.b = appendCSVField(append(w.b, ','), w.attempts, textCell)
}

// attemptsJSON appends as encoded as json.Marshal(cleanAttempts(as))
// encodes them: by hand (recordjson.go) when that is exact, which it is
// unless a string needs cleaning or a time is out of JSON's years.
func attemptsJSON(dst []byte, as []Attempt) []byte {
	if as == nil {
		return append(dst, "[]"...)
	}
	if attemptsClean(as) {
		o := jsonObject{b: dst, form: formFull, exact: true}
		o.attemptList(as)
		if o.exact {
			return o.b
		}
	}
	js, _ := json.Marshal(cleanAttempts(as)) // plain structs: cannot fail
	return append(dst, js...)
}

// attemptsClean says whether clean leaves the attempts' strings as they are.
func attemptsClean(as []Attempt) bool {
	for i := range as {
		a := &as[i]
		if !storable(a.Gateway) || !storable(a.CallID) || !storable(a.SIPReason) {
			return false
		}
	}
	return true
}

// cellKind is whether a cell is text from outside, which is defused.
type cellKind int

const (
	plainCell cellKind = iota // written as it is: an ID, a column name
	// textCell is defused against spreadsheet formula injection as OWASP
	// advises: one that starts with = + - @ tab or CR gets a leading single
	// quote, so that Excel, LibreOffice and Google Sheets show it as text
	// instead of running it. A caller number "=HYPERLINK(...)" or "=2+5"
	// comes from the INVITE, that is from anyone. E.164 numbers such as
	// "+4930..." are quoted too: one rule for every text cell leaves no
	// gap for an attacker to fit through ("+1+cmd|..." is a formula), and
	// a spreadsheet would otherwise turn the number into a figure, dropping
	// its "+" and digits past the fifteenth. Cells Tollgate writes as
	// numbers ("-1" for a RADIUS code not received) stay numbers: strconv
	// cannot write a formula. A program reading the file undoes it by
	// dropping a leading ' that is followed by one of those characters
	// (docs/install.md).
	textCell
)

// defused says whether a text cell gets its leading single quote.
func defused[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// appendCSVField appends one cell as encoding/csv's Writer with UseCRLF
// writes it: quoted when it holds a comma, a quote or a line end, starts
// with a space or is \., its quotes doubled, CR dropped and LF written CRLF.
func appendCSVField[T string | []byte](dst []byte, s T, kind cellKind) []byte {
	quote := kind == textCell && defused(s)
	if !csvNeedsQuotes(s, quote) {
		if quote {
			dst = append(dst, '\'')
		}
		return append(dst, s...)
	}
	dst = append(dst, '"')
	if quote {
		dst = append(dst, '\'')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '"' && c != '\r' && c != '\n' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '"', '"')
		case '\n':
			dst = append(dst, '\r', '\n')
		}
		start = i + 1
	}
	dst = append(append(dst, s[start:]...), '"')
	return dst
}

// csvNeedsQuotes is encoding/csv's fieldNeedsQuotes for s, after a leading
// single quote when defused.
func csvNeedsQuotes[T string | []byte](s T, defused bool) bool {
	if len(s) == 0 {
		return false
	}
	if !defused && string(s) == `\.` {
		return true
	}
	for i := 0; i < len(s); i++ {
		if csvSpecial[s[i]] {
			return true
		}
	}
	if defused {
		return false // it starts with the quote
	}
	if s[0] < utf8.RuneSelf {
		return unicode.IsSpace(rune(s[0]))
	}
	r, _ := utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
	return unicode.IsSpace(r)
}

// csvSpecial are the bytes that make a cell quoted.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}
