package announce

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// HTTP serves announce and scrape over HTTP. Mount ServeAnnounce at
// /announce and ServeScrape at /scrape, or the HTTP itself (it routes on
// the path's last element).
type HTTP struct {
	cfg  Config
	pool sync.Pool // *httpScratch
}

// httpScratch is one request's reusable memory.
type httpScratch struct {
	buf    []byte // the bencoded reply
	out    []byte // the lean front's whole HTTP reply
	peers  []peers.Peer
	hashes []peers.InfoHash
}

// NewHTTP returns the HTTP frontend.
func NewHTTP(cfg Config) (*HTTP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &HTTP{cfg: cfg}
	h.pool.New = func() any {
		return &httpScratch{buf: make([]byte, 0, 1024), peers: make([]peers.Peer, 0, cfg.NumWantMax)}
	}
	return h, nil
}

// ServeHTTP routes /…/announce and /…/scrape.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/announce"):
		h.ServeAnnounce(w, r)
	case strings.HasSuffix(r.URL.Path, "/scrape"):
		h.ServeScrape(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Header values shared by every reply; net/http only reads them.
var (
	textPlain = []string{"text/plain"}
	noCache   = []string{"no-cache"}
)

func writeBencode(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["Cache-Control"] = noCache
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendFailure appends the bencoded failure reply.
func appendFailure(b []byte, reason string) []byte {
	b = append(b, "d14:failure reason"...)
	b = strconv.AppendInt(b, int64(len(reason)), 10)
	b = append(b, ':')
	b = append(b, reason...)
	return append(b, 'e')
}

func appendInt(b []byte, key string, v int64) []byte {
	b = append(b, key...)
	b = append(b, 'i')
	b = strconv.AppendInt(b, v, 10)
	return append(b, 'e')
}

func appendBytesHeader(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, ':')
}

func (h *HTTP) fail(w http.ResponseWriter, sc *httpScratch, status int, reason string) {
	sc.buf = appendFailure(sc.buf[:0], reason)
	writeBencode(w, status, sc.buf)
}

// ServeAnnounce answers GET /announce.
func (h *HTTP) ServeAnnounce(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sc := h.pool.Get().(*httpScratch)
	defer h.pool.Put(sc)
	status, result := h.announce(r, sc)
	writeBencode(w, status, sc.buf)
	h.cfg.Metrics.observe(opAnnounce, protoHTTP, result, start)
}

func (h *HTTP) announce(r *http.Request, sc *httpScratch) (status, result int) {
	if r.Method != http.MethodGet {
		sc.buf = appendFailure(sc.buf[:0], "announce must be a GET")
		return http.StatusMethodNotAllowed, resultError
	}
	source, err := h.sourceIP(r)
	if err != nil {
		sc.buf = appendFailure(sc.buf[:0], err.Error())
		return http.StatusOK, resultError
	}
	return h.answerAnnounce(r.Context(), sc, r.URL.RawQuery, source)
}

// answerAnnounce answers the announce query rawQuery that came from source
// (the connection's address, or what a trusted proxy says it forwarded):
// the bencoded reply is left in sc.buf. Both the net/http handler and the
// lean Front call it, so they answer alike.
func (h *HTTP) answerAnnounce(ctx context.Context, sc *httpScratch, rawQuery string, source netip.Addr) (status, result int) {
	req, err := ParseAnnounceQuery(rawQuery)
	if err != nil {
		sc.buf = appendFailure(sc.buf[:0], err.Error())
		return http.StatusOK, resultError
	}
	ip := source
	if h.cfg.TrustIPParam && req.IP.IsValid() {
		ip = req.IP.Unmap()
	}
	served, err := h.cfg.serves(ctx, req.InfoHash)
	switch {
	case err != nil:
		h.cfg.Logger.Error("announce", "err", err)
		sc.buf = appendFailure(sc.buf[:0], "internal error")
		return http.StatusInternalServerError, resultError
	case served == resultUnregistered:
		sc.buf = appendFailure(sc.buf[:0], "unregistered torrent")
		return http.StatusOK, resultUnregistered
	case served == resultTakenDown:
		sc.buf = appendFailure(sc.buf[:0], TakenDownReason)
		return http.StatusOK, resultTakenDown
	}
	res, err := h.cfg.Store.Announce(ctx, peers.Announce{
		InfoHash: req.InfoHash,
		Peer:     peers.Peer{ID: req.PeerID, Addr: netip.AddrPortFrom(ip, req.Port)},
		Left:     req.Left,
		Event:    req.Event,
		NumWant:  h.cfg.numWant(req.NumWant),
		PeerBuf:  sc.peers,
	})
	if err != nil {
		h.cfg.Logger.Error("announce", "err", fmt.Errorf("peer store: %w", err))
		sc.buf = appendFailure(sc.buf[:0], "internal error")
		return http.StatusInternalServerError, resultError
	}
	if cap(res.Peers) <= 4*h.cfg.NumWantMax {
		sc.peers = res.Peers[:0]
	}
	sc.buf = h.appendAnnounceReply(sc.buf[:0], res, req.Compact, req.NoPeerID)
	return http.StatusOK, resultOK
}

// appendAnnounceReply bencodes the reply; keys in sorted order as bencode
// requires.
func (h *HTTP) appendAnnounceReply(b []byte, res peers.AnnounceResult, compact, noPeerID bool) []byte {
	b = append(b, 'd')
	b = appendInt(b, "8:complete", int64(res.Complete))
	b = appendInt(b, "10:incomplete", int64(res.Incomplete))
	b = appendInt(b, "8:interval", int64(h.cfg.Interval/time.Second))
	b = appendInt(b, "12:min interval", int64(h.cfg.MinInterval/time.Second))
	if !compact {
		b = append(b, "5:peersl"...)
		for _, p := range res.Peers {
			a := p.Addr.Addr().Unmap()
			b = append(b, "d2:ip"...)
			var ipbuf [64]byte
			ipText := a.AppendTo(ipbuf[:0])
			b = appendBytesHeader(b, len(ipText))
			b = append(b, ipText...)
			if !noPeerID {
				b = append(b, "7:peer id20:"...)
				b = append(b, p.ID[:]...)
			}
			b = appendInt(b, "4:port", int64(p.Addr.Port()))
			b = append(b, 'e')
		}
		return append(b, "ee"...)
	}
	n4, n6 := 0, 0
	for _, p := range res.Peers {
		if p.Addr.Addr().Unmap().Is4() {
			n4++
		} else {
			n6++
		}
	}
	b = append(b, "5:peers"...)
	b = appendBytesHeader(b, n4*6)
	b = appendCompact(b, res.Peers, true)
	if n6 > 0 {
		b = append(b, "6:peers6"...)
		b = appendBytesHeader(b, n6*18)
		b = appendCompact(b, res.Peers, false)
	}
	return append(b, 'e')
}

// appendCompact appends the BEP 23 (v4) or BEP 7 (v6) form of the peers of
// one family.
func appendCompact(b []byte, ps []peers.Peer, v4 bool) []byte {
	for _, p := range ps {
		a := p.Addr.Addr().Unmap()
		if a.Is4() != v4 {
			continue
		}
		if v4 {
			ip := a.As4()
			b = append(b, ip[:]...)
		} else {
			ip := a.As16()
			b = append(b, ip[:]...)
		}
		b = append(b, byte(p.Addr.Port()>>8), byte(p.Addr.Port()))
	}
	return b
}

// sourceIP is the address a request came from: the connection's source,
// or what a forwarding header says when the connection is from a trusted
// proxy. (The ip= parameter may override it: see answerAnnounce.)
func (h *HTTP) sourceIP(r *http.Request) (netip.Addr, error) {
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("unusable remote address")
	}
	ip := remote.Addr().Unmap()
	if !h.trustedProxy(ip) {
		return ip, nil
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		return h.fromForwardedFor(xff)
	}
	if xr := r.Header.Get("X-Real-IP"); xr != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(xr))
		if err != nil {
			return netip.Addr{}, fmt.Errorf("invalid X-Real-IP")
		}
		return a.Unmap(), nil
	}
	return ip, nil
}

func (h *HTTP) trustedProxy(ip netip.Addr) bool {
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// fromForwardedFor takes the right-most address that is not a trusted
// proxy: those left of it were written by the client and may be forged.
func (h *HTTP) fromForwardedFor(headers []string) (netip.Addr, error) {
	var last netip.Addr
	for i := len(headers) - 1; i >= 0; i-- {
		list := headers[i]
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				item, list = list[j+1:], list[:j]
			} else {
				item, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return netip.Addr{}, fmt.Errorf("invalid X-Forwarded-For")
			}
			last = a.Unmap()
			if !h.trustedProxy(last) {
				return last, nil
			}
		}
	}
	if !last.IsValid() {
		return netip.Addr{}, fmt.Errorf("invalid X-Forwarded-For")
	}
	return last, nil
}

// ServeScrape answers GET /scrape.
func (h *HTTP) ServeScrape(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sc := h.pool.Get().(*httpScratch)
	defer h.pool.Put(sc)
	result := h.scrape(w, r, sc)
	h.cfg.Metrics.observe(opScrape, protoHTTP, result, start)
}

func (h *HTTP) scrape(w http.ResponseWriter, r *http.Request, sc *httpScratch) int {
	if r.Method != http.MethodGet {
		h.fail(w, sc, http.StatusMethodNotAllowed, "scrape must be a GET")
		return resultError
	}
	hashes, err := ParseScrapeQuery(r.URL.RawQuery, sc.hashes)
	sc.hashes = hashes[:0]
	if err != nil {
		h.fail(w, sc, http.StatusOK, err.Error())
		return resultError
	}
	// Sorted and unique: bencode dictionary keys must be.
	slices.SortFunc(hashes, func(a, b peers.InfoHash) int { return bytes.Compare(a[:], b[:]) })
	hashes = slices.Compact(hashes)
	// A scrape that names a taken-down torrent fails as its announce
	// does: BEP 48 has no failure per torrent.
	kept := hashes[:0]
	for _, ih := range hashes {
		served, err := h.cfg.serves(r.Context(), ih)
		if err != nil {
			h.cfg.Logger.Error("scrape", "err", err)
			h.fail(w, sc, http.StatusInternalServerError, "internal error")
			return resultError
		}
		if served == resultTakenDown {
			h.fail(w, sc, http.StatusOK, TakenDownReason)
			return resultTakenDown
		}
		if served == resultOK {
			kept = append(kept, ih)
		}
	}
	swarms, err := h.cfg.Store.Scrape(r.Context(), kept)
	if err != nil {
		h.cfg.Logger.Error("scrape", "err", fmt.Errorf("peer store: %w", err))
		h.fail(w, sc, http.StatusInternalServerError, "internal error")
		return resultError
	}
	b := append(sc.buf[:0], "d5:filesd"...)
	for i, ih := range kept {
		b = append(b, "20:"...)
		b = append(b, ih[:]...)
		b = append(b, 'd')
		b = appendInt(b, "8:complete", int64(swarms[i].Complete))
		b = appendInt(b, "10:downloaded", int64(swarms[i].Downloaded))
		b = appendInt(b, "10:incomplete", int64(swarms[i].Incomplete))
		b = append(b, 'e')
	}
	b = append(b, "ee"...)
	sc.buf = b
	writeBencode(w, http.StatusOK, b)
	if len(kept) == 0 && len(hashes) > 0 {
		return resultUnregistered
	}
	return resultOK
}
