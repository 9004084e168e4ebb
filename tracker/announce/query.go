package announce

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/peertune/peertune/tracker/peers"
)

// AnnounceRequest is a parsed HTTP announce query.
type AnnounceRequest struct {
	InfoHash   peers.InfoHash
	PeerID     peers.PeerID
	Port       uint16
	Uploaded   uint64
	Downloaded uint64
	Left       uint64
	Event      peers.Event
	NumWant    int64      // -1 when not given
	Compact    bool       // BEP 23; the default
	NoPeerID   bool       // no_peer_id=1: leave "peer id" out of non-compact replies
	IP         netip.Addr // ip=, zero when not given; used only with TrustIPParam
}

// Parse errors; their text is the "failure reason" a client sees.
var (
	errQueryTooLong   = errors.New("request too long")
	errBadEscape      = errors.New("malformed percent-encoding in query")
	errInfoHash       = errors.New("info_hash must be 20 bytes")
	errInfoHashTwice  = errors.New("info_hash given more than once")
	errNoInfoHash     = errors.New("missing info_hash")
	errPeerID         = errors.New("peer_id must be 20 bytes")
	errNoPeerID       = errors.New("missing peer_id")
	errPort           = errors.New("port must be a number from 1 to 65535")
	errNoPort         = errors.New("missing port")
	errLeft           = errors.New("left must be a non-negative integer")
	errNoLeft         = errors.New("missing left")
	errUploaded       = errors.New("uploaded must be a non-negative integer")
	errDownloaded     = errors.New("downloaded must be a non-negative integer")
	errNumWant        = errors.New("numwant must be a non-negative integer")
	errEvent          = errors.New("unknown event (want started, completed, stopped or none)")
	errCompact        = errors.New("compact must be 0 or 1")
	errIP             = errors.New("ip is not an IP address")
	errTooManyHashes  = errors.New("too many info_hash (at most 50)")
	errNoScrapeHashes = errors.New("missing info_hash (full scrape is not served)")
)

// unescape percent-decodes s (form encoding: '+' is a space) into dst,
// which bounds the result: it fails when the value does not fit.
func unescape(dst []byte, s string) (int, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		if n == len(dst) {
			return 0, errTooBig
		}
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return 0, errBadEscape
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return 0, errBadEscape
			}
			c = h<<4 | l
			i += 2
		case '+':
			c = ' '
		}
		dst[n] = c
		n++
	}
	return n, nil
}

var errTooBig = errors.New("value too long")

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decode20 decodes a 20-byte binary value.
func decode20(dst *[20]byte, s string, lenErr error) error {
	var buf [21]byte // one spare byte to tell "too long" from "exactly 20"
	n, err := unescape(buf[:], s)
	if err == errBadEscape {
		return err
	}
	if err != nil || n != 20 {
		return lenErr
	}
	copy(dst[:], buf[:20])
	return nil
}

// parseUint parses a decimal counter (percent-encoded digits allowed).
func parseUint(s string, bad error) (uint64, error) {
	var buf [24]byte
	n, err := unescape(buf[:], s)
	if err != nil || n == 0 || n > 20 {
		return 0, bad
	}
	var v uint64
	for _, c := range buf[:n] {
		if c < '0' || c > '9' {
			return 0, bad
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, bad
		}
		v = v*10 + d
	}
	return v, nil
}

// nextPair cuts the first key=value pair off q.
func nextPair(q string) (key, value, rest string) {
	pair, rest, _ := strings.Cut(q, "&")
	key, value, _ = strings.Cut(pair, "=")
	return key, value, rest
}

// ParseAnnounceQuery parses and validates an HTTP announce's raw (still
// percent-encoded) query string. Unknown parameters are ignored.
func ParseAnnounceQuery(rawQuery string) (AnnounceRequest, error) {
	req := AnnounceRequest{NumWant: -1, Compact: true}
	if len(rawQuery) > maxAnnounceQueryBytes {
		return req, errQueryTooLong
	}
	var haveIH, havePID, havePort, haveLeft bool
	for q := rawQuery; q != ""; {
		var key, val string
		key, val, q = nextPair(q)
		var err error
		switch key {
		case "info_hash":
			if haveIH {
				return req, errInfoHashTwice
			}
			err = decode20((*[20]byte)(&req.InfoHash), val, errInfoHash)
			haveIH = true
		case "peer_id":
			err = decode20((*[20]byte)(&req.PeerID), val, errPeerID)
			havePID = true
		case "port":
			var p uint64
			p, err = parseUint(val, errPort)
			if err == nil && (p == 0 || p > 65535) {
				err = errPort
			}
			req.Port = uint16(p)
			havePort = true
		case "left":
			req.Left, err = parseUint(val, errLeft)
			haveLeft = true
		case "uploaded":
			req.Uploaded, err = parseUint(val, errUploaded)
		case "downloaded":
			req.Downloaded, err = parseUint(val, errDownloaded)
		case "numwant":
			var n uint64
			n, err = parseUint(val, errNumWant)
			req.NumWant = int64(min(n, 1<<31))
		case "event":
			req.Event, err = parseEvent(val)
		case "compact":
			switch val {
			case "1":
				req.Compact = true
			case "0":
				req.Compact = false
			default:
				err = errCompact
			}
		case "no_peer_id":
			req.NoPeerID = val == "1"
		case "ip":
			var buf [64]byte
			n, uerr := unescape(buf[:], val)
			if uerr != nil {
				return req, errIP
			}
			req.IP, err = netip.ParseAddr(string(buf[:n]))
			if err != nil {
				err = errIP
			}
		}
		if err != nil {
			return req, err
		}
	}
	switch {
	case !haveIH:
		return req, errNoInfoHash
	case !havePID:
		return req, errNoPeerID
	case !havePort:
		return req, errNoPort
	case !haveLeft:
		return req, errNoLeft
	}
	return req, nil
}

func parseEvent(v string) (peers.Event, error) {
	switch v {
	case "", "empty", "paused": // paused (BEP 21) is a partial seed: a plain announce
		return peers.EventNone, nil
	case "started":
		return peers.EventStarted, nil
	case "completed":
		return peers.EventCompleted, nil
	case "stopped":
		return peers.EventStopped, nil
	}
	return peers.EventNone, errEvent
}

// ParseScrapeQuery parses an HTTP scrape's raw query: its info_hash
// parameters (1 to 50), appended to dst. Other parameters are ignored.
func ParseScrapeQuery(rawQuery string, dst []peers.InfoHash) ([]peers.InfoHash, error) {
	dst = dst[:0]
	if len(rawQuery) > maxScrapeQueryBytes {
		return dst, errQueryTooLong
	}
	for q := rawQuery; q != ""; {
		var key, val string
		key, val, q = nextPair(q)
		if key != "info_hash" {
			continue
		}
		if len(dst) == MaxScrapeHashesHTTP {
			return dst, errTooManyHashes
		}
		var ih peers.InfoHash
		if err := decode20((*[20]byte)(&ih), val, errInfoHash); err != nil {
			return dst, err
		}
		dst = append(dst, ih)
	}
	if len(dst) == 0 {
		return dst, errNoScrapeHashes
	}
	return dst, nil
}
