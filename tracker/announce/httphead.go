package announce

import (
	"bytes"

	"golang.org/x/net/http/httpguts"
)

// requestHead is what the lean front (Front) needs of an HTTP/1.x request
// head that it answers itself.
type requestHead struct {
	// query is the raw query of the request target ("" when it has none).
	query string
	// close is true when the connection closes after the reply: HTTP/1.1
	// with "Connection: close", HTTP/1.0 without "Connection: keep-alive".
	close bool
	// http10 is true for an HTTP/1.0 request.
	http10 bool
}

// headEnd returns the length of the request head at the start of b,
// through the blank line that ends it, or -1 when b holds no complete head
// yet. Like net/http it takes a bare LF as a line end; parseRequestHead
// then leaves such a head to net/http.
func headEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j
		// A line ends at i; the head ends if the next line is empty.
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// parseRequestHead parses head (as delimited by headEnd) when it is a
// request the lean front answers itself: exactly "GET path" or "GET
// path?query", HTTP/1.0 or 1.1, CRLF line ends, exactly one valid Host
// (HTTP/1.1), no body and no header that asks for more than a plain reply
// (Content-Length, Transfer-Encoding, Expect, Upgrade, Trailer). ok is
// false for anything else, well-formed or not: net/http then answers it,
// with its own errors. Every head it accepts, net/http's server reads the
// same way (FuzzParseRequestHead checks this against http.ReadRequest).
func parseRequestHead(head []byte, path string) (r requestHead, ok bool) {
	line, rest, found := bytes.Cut(head, crlf)
	if !found {
		return r, false
	}
	target, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return r, false
	}
	sp := bytes.IndexByte(target, ' ')
	if sp < 0 {
		return r, false
	}
	switch string(target[sp+1:]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		r.http10 = true
	default:
		return r, false
	}
	target = target[:sp]
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return r, false
		}
	}
	query, ok := bytes.CutPrefix(target, []byte(path))
	switch {
	case !ok:
		return r, false
	case len(query) == 0:
	case query[0] == '?':
		r.query = string(query[1:])
	default:
		return r, false
	}

	hosts := 0
	var keepAlive bool
	for {
		line, rest, found = bytes.Cut(rest, crlf)
		if !found {
			return r, false // a bare LF somewhere
		}
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !validFieldName(name) {
			return r, false // also a continuation line (leading space)
		}
		value = bytes.Trim(value, " \t")
		if !validFieldValue(value) {
			return r, false
		}
		switch {
		case asciiEqualFold(name, "Host"):
			hosts++
			if !httpguts.ValidHostHeader(string(value)) {
				return r, false
			}
		case asciiEqualFold(name, "Connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				switch {
				case asciiEqualFold(tok, "close"):
					r.close = true
				case asciiEqualFold(tok, "keep-alive"):
					keepAlive = true
				}
			}
		case asciiEqualFold(name, "Content-Length"),
			asciiEqualFold(name, "Transfer-Encoding"),
			asciiEqualFold(name, "Expect"),
			asciiEqualFold(name, "Upgrade"),
			asciiEqualFold(name, "Trailer"):
			return r, false
		}
	}
	if len(rest) != 0 || hosts > 1 || (hosts == 0 && !r.http10) {
		return r, false
	}
	if r.http10 && !keepAlive {
		r.close = true
	}
	return r, true
}

var crlf = []byte("\r\n")

// validFieldName is httpguts.ValidHeaderFieldName without a string
// conversion: a non-empty token.
func validFieldName(b []byte) bool {
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return len(b) > 0
}

// validFieldValue is httpguts.ValidHeaderFieldValue without a string
// conversion: no control bytes but horizontal tab.
func validFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// asciiEqualFold reports whether b equals the ASCII string s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
