package relay

import "bytes"

// Limits of the command language (section 2.2).
const (
	maxCommandLen = 8192 // rtpproxy's RTPP_CMD_BUFLEN
	maxTokens     = 23   // per command or sub-command
	maxSubs       = 15   // "&&" sub-commands per command
)

// command is one parsed control command: the command letter, the modifier
// letters written after it in the same token, its arguments, and the
// sub-commands that follow it after "&&" tokens.
type command struct {
	op   byte // upper case
	mods string
	args []string
	subs []command
}

func isSep(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// tokens splits a command on runs of separators.
func tokens(line []byte) []string {
	var out []string
	for i := 0; i < len(line); {
		for i < len(line) && isSep(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSep(line[j]) {
			j++
		}
		if j > i {
			out = append(out, string(line[i:j]))
		}
		i = j
	}
	return out
}

// splitCookie separates the UDP cookie (the first token) from the command.
// ok is false when the datagram holds no token at all and so cannot be
// answered.
func splitCookie(dgram []byte) (cookie string, rest []byte, ok bool) {
	i := 0
	for i < len(dgram) && isSep(dgram[i]) {
		i++
	}
	j := i
	for j < len(dgram) && !isSep(dgram[j]) {
		j++
	}
	if j == i {
		return "", nil, false
	}
	return string(dgram[i:j]), dgram[j:], true
}

// parseCommand tokenizes one command (without a cookie). It checks what the
// tokenizer checks upstream (E5) and nothing about the meaning of the
// arguments, which the command handlers validate.
func parseCommand(line []byte) (command, error) {
	if len(line) > maxCommandLen || bytes.IndexByte(line, 0) >= 0 {
		return command{}, eParse
	}
	toks := tokens(line)
	if len(toks) == 0 {
		return command{}, eParse
	}
	var groups [][]string
	start := 0
	for i, t := range toks {
		if t == "&&" {
			groups = append(groups, toks[start:i])
			start = i + 1
		}
	}
	groups = append(groups, toks[start:])
	if len(groups) > maxSubs+1 {
		return command{}, eParse
	}
	cmds := make([]command, len(groups))
	for i, g := range groups {
		if len(g) == 0 || len(g) > maxTokens {
			return command{}, eParse
		}
		cmds[i] = command{op: upper(g[0][0]), mods: g[0][1:], args: g[1:]}
	}
	main := cmds[0]
	if len(cmds) > 1 {
		main.subs = cmds[1:]
	}
	return main, nil
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 'a' + 'A'
	}
	return b
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b - 'A' + 'a'
	}
	return b
}
