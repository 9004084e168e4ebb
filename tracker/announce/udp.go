package announce

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// BEP 15 constants.
const (
	udpProtocolID = 0x41727101980

	udpActionConnect  = 0
	udpActionAnnounce = 1
	udpActionScrape   = 2
	udpActionError    = 3

	udpConnectLen  = 16
	udpAnnounceLen = 98
	udpScrapeHead  = 16

	// MaxUDPReply bounds every reply: the IPv6 minimum MTU (1280) less the
	// IPv6 (40) and UDP (8) headers is 1232; 1200 leaves room for tunnels,
	// so a reply is never fragmented. An announce reply then carries at most
	// 196 IPv4 or 65 IPv6 peers.
	MaxUDPReply = 1200
	// MaxScrapeHashesUDP is what fits a request in a 1500-byte MTU (BEP 15:
	// "about 74"); its reply is 8+12*74 = 896 bytes.
	MaxScrapeHashesUDP = 74

	// connIDWindow: a connection id is valid in the window it was made in
	// and the next, so from 2 to 4 minutes: at least the 2 minutes BEP 15
	// asks of trackers.
	connIDWindow = 2 * time.Minute
)

// UDPRequest is a parsed BEP 15 request packet.
type UDPRequest struct {
	ConnectionID  uint64
	Action        uint32
	TransactionID uint32
	// Announce fields (Action 1).
	InfoHash   peers.InfoHash
	PeerID     peers.PeerID
	Downloaded uint64
	Left       uint64
	Uploaded   uint64
	Event      peers.Event
	IP         netip.Addr // zero when the packet's IP field is 0
	Key        uint32
	NumWant    int32
	Port       uint16
	// Scrape fields (Action 2).
	InfoHashes []peers.InfoHash
}

// errUDPTooShort marks packets too short to carry a transaction id: they
// are dropped without a reply.
var errUDPTooShort = errors.New("packet too short")

// ParseUDPPacket parses and validates one request packet. Scrape infohashes
// are appended to hashes[:0]. When the error is not errUDPTooShort, the
// returned request's TransactionID is set, so an error reply can be sent.
func ParseUDPPacket(pkt []byte, hashes []peers.InfoHash) (UDPRequest, error) {
	var r UDPRequest
	if len(pkt) < udpConnectLen {
		return r, errUDPTooShort
	}
	r.ConnectionID = binary.BigEndian.Uint64(pkt[0:8])
	r.Action = binary.BigEndian.Uint32(pkt[8:12])
	r.TransactionID = binary.BigEndian.Uint32(pkt[12:16])
	switch r.Action {
	case udpActionConnect:
		if r.ConnectionID != udpProtocolID {
			return r, errors.New("bad protocol id")
		}
	case udpActionAnnounce:
		if len(pkt) < udpAnnounceLen {
			return r, errors.New("announce too short")
		}
		copy(r.InfoHash[:], pkt[16:36])
		copy(r.PeerID[:], pkt[36:56])
		r.Downloaded = binary.BigEndian.Uint64(pkt[56:64])
		r.Left = binary.BigEndian.Uint64(pkt[64:72])
		r.Uploaded = binary.BigEndian.Uint64(pkt[72:80])
		switch binary.BigEndian.Uint32(pkt[80:84]) {
		case 0:
			r.Event = peers.EventNone
		case 1:
			r.Event = peers.EventCompleted
		case 2:
			r.Event = peers.EventStarted
		case 3:
			r.Event = peers.EventStopped
		default:
			return r, errors.New("unknown event")
		}
		if ip := [4]byte(pkt[84:88]); ip != [4]byte{} {
			r.IP = netip.AddrFrom4(ip)
		}
		r.Key = binary.BigEndian.Uint32(pkt[88:92])
		r.NumWant = int32(binary.BigEndian.Uint32(pkt[92:96]))
		r.Port = binary.BigEndian.Uint16(pkt[96:98])
		if r.Port == 0 {
			return r, errors.New("port 0")
		}
		// Bytes past 98 are BEP 41 options, which we ignore.
	case udpActionScrape:
		body := pkt[udpScrapeHead:]
		if len(body) == 0 || len(body)%20 != 0 {
			return r, errors.New("scrape length is not a whole number of info hashes")
		}
		if len(body)/20 > MaxScrapeHashesUDP {
			return r, errors.New("too many info hashes (at most 74)")
		}
		r.InfoHashes = hashes[:0]
		for i := 0; i < len(body); i += 20 {
			r.InfoHashes = append(r.InfoHashes, peers.InfoHash(body[i:i+20]))
		}
	default:
		return r, errors.New("unknown action")
	}
	return r, nil
}

// UDP is the BEP 15 tracker. Serve it on one or more packet connections;
// Close stops them.
type UDP struct {
	cfg     Config
	macs    sync.Pool // hash.Hash: HMAC-SHA256 under key
	key     [32]byte  // random per process: ids die with the process
	mu      sync.Mutex
	conns   map[net.PacketConn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// NewUDP returns the UDP frontend.
func NewUDP(cfg Config) (*UDP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u := &UDP{cfg: cfg, conns: map[net.PacketConn]struct{}{}}
	if _, err := rand.Read(u.key[:]); err != nil {
		return nil, fmt.Errorf("udp tracker: connection id key: %w", err)
	}
	u.macs.New = func() any { return hmac.New(sha256.New, u.key[:]) }
	return u, nil
}

// connID signs the client's address and a time window.
func (u *UDP) connID(addr netip.AddrPort, window int64) uint64 {
	mac := u.macs.Get().(hash.Hash)
	defer u.macs.Put(mac)
	mac.Reset()
	var msg [8 + 16 + 2]byte
	binary.BigEndian.PutUint64(msg[:8], uint64(window))
	ip := addr.Addr().As16()
	copy(msg[8:24], ip[:])
	binary.BigEndian.PutUint16(msg[24:], addr.Port())
	mac.Write(msg[:])
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(mac.Sum(sum[:0]))
}

func (u *UDP) window() int64 { return u.cfg.Now().UnixNano() / int64(connIDWindow) }

func (u *UDP) validConnID(id uint64, addr netip.AddrPort) bool {
	// A one-word comparison leaks no useful timing.
	w := u.window()
	return id == u.connID(addr, w) || id == u.connID(addr, w-1)
}

// networkStoreReaders is how many readers Serve runs when the peer store
// is not peers.Local.
const networkStoreReaders = 32

// Serve answers requests on pc until ctx ends or Close is called, then
// closes pc and returns nil; it returns an error if reading fails. It runs
// one reader per CPU (at most 4), or networkStoreReaders when the peer
// store waits on a network.
func (u *UDP) Serve(ctx context.Context, pc net.PacketConn) error {
	u.mu.Lock()
	if u.closing {
		u.mu.Unlock()
		_ = pc.Close()
		return errors.New("udp tracker: closed")
	}
	u.conns[pc] = struct{}{}
	u.wg.Add(1)
	u.mu.Unlock()
	defer u.wg.Done()

	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() { // wakes the readers when ctx ends
		defer close(stopped)
		select {
		case <-ctx.Done():
			u.wake(pc)
		case <-stop:
		}
	}()
	readers := min(runtime.GOMAXPROCS(0), 4)
	if !isLocal(u.cfg.Store) {
		// Each reader waits out its store's round trip (Redis): more
		// readers, so that round trips overlap.
		readers = networkStoreReaders
	}
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() { errs <- u.readLoop(ctx, pc) })
	}
	wg.Wait()
	close(stop)
	<-stopped
	close(errs)
	u.mu.Lock()
	delete(u.conns, pc)
	u.mu.Unlock()
	cerr := pc.Close()
	for err := range errs {
		if err != nil {
			return err
		}
	}
	if cerr != nil {
		return fmt.Errorf("udp tracker: close: %w", cerr)
	}
	return nil
}

// wake makes pending reads return: a deadline in the past.
func (u *UDP) wake(pc net.PacketConn) { _ = pc.SetReadDeadline(time.Unix(1, 0)) }

// Close stops every Serve and waits for them to return.
func (u *UDP) Close() error {
	u.mu.Lock()
	u.closing = true
	for pc := range u.conns {
		u.wake(pc)
	}
	u.mu.Unlock()
	u.wg.Wait()
	return nil
}

func (u *UDP) stopping(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closing
}

type udpScratch struct {
	in     [2048]byte
	out    [MaxUDPReply]byte
	peers  []peers.Peer
	hashes []peers.InfoHash
}

func (u *UDP) readLoop(ctx context.Context, pc net.PacketConn) error {
	sc := &udpScratch{peers: make([]peers.Peer, 0, u.cfg.NumWantMax), hashes: make([]peers.InfoHash, 0, MaxScrapeHashesUDP)}
	udpConn, fast := pc.(*net.UDPConn)
	for {
		var (
			n    int
			from netip.AddrPort
			err  error
		)
		if fast {
			n, from, err = udpConn.ReadFromUDPAddrPort(sc.in[:])
		} else {
			var a net.Addr
			n, a, err = pc.ReadFrom(sc.in[:])
			if err == nil {
				ua, ok := a.(*net.UDPAddr)
				if !ok {
					continue
				}
				from = ua.AddrPort()
			}
		}
		if err != nil {
			if u.stopping(ctx) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("udp tracker: read: %w", err)
		}
		reply := u.handle(ctx, sc, sc.in[:n], from)
		if len(reply) == 0 {
			continue
		}
		if fast {
			_, err = udpConn.WriteToUDPAddrPort(reply, from)
		} else {
			_, err = pc.WriteTo(reply, net.UDPAddrFromAddrPort(from))
		}
		if err != nil && !u.stopping(ctx) {
			u.cfg.Logger.Debug("udp tracker: write", "to", from, "err", err)
		}
	}
}

// handle answers one packet; an empty reply means none is sent.
func (u *UDP) handle(ctx context.Context, sc *udpScratch, pkt []byte, from netip.AddrPort) []byte {
	start := time.Now()
	src := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	req, err := ParseUDPPacket(pkt, sc.hashes)
	if errors.Is(err, errUDPTooShort) {
		return nil
	}
	op := opAnnounce
	if req.Action == udpActionScrape {
		op = opScrape
	}
	if err != nil {
		if req.Action == udpActionAnnounce || req.Action == udpActionScrape {
			u.cfg.Metrics.observe(op, protoUDP, resultError, start)
		}
		return udpError(sc.out[:0], req.TransactionID, err.Error())
	}
	if req.Action == udpActionConnect {
		b := binary.BigEndian.AppendUint32(sc.out[:0], udpActionConnect)
		b = binary.BigEndian.AppendUint32(b, req.TransactionID)
		return binary.BigEndian.AppendUint64(b, u.connID(src, u.window()))
	}
	if !u.validConnID(req.ConnectionID, src) {
		u.cfg.Metrics.observe(op, protoUDP, resultError, start)
		return udpError(sc.out[:0], req.TransactionID, "bad connection id")
	}
	var reply []byte
	var result int
	if req.Action == udpActionAnnounce {
		reply, result = u.announce(ctx, sc, req, src)
	} else {
		reply, result = u.scrape(ctx, sc, req)
		sc.hashes = req.InfoHashes[:0]
	}
	u.cfg.Metrics.observe(op, protoUDP, result, start)
	return reply
}

func udpError(b []byte, tid uint32, msg string) []byte {
	b = binary.BigEndian.AppendUint32(b, udpActionError)
	b = binary.BigEndian.AppendUint32(b, tid)
	return append(b, msg...)
}

func (u *UDP) announce(ctx context.Context, sc *udpScratch, req UDPRequest, src netip.AddrPort) ([]byte, int) {
	served, err := u.cfg.serves(ctx, req.InfoHash)
	switch {
	case err != nil:
		u.cfg.Logger.Error("udp announce", "err", err)
		return udpError(sc.out[:0], req.TransactionID, "internal error"), resultError
	case served == resultUnregistered:
		return udpError(sc.out[:0], req.TransactionID, "unregistered torrent"), resultUnregistered
	case served == resultTakenDown:
		return udpError(sc.out[:0], req.TransactionID, TakenDownReason), resultTakenDown
	}
	ip := src.Addr()
	if u.cfg.TrustIPParam && req.IP.IsValid() {
		ip = req.IP
	}
	v4 := ip.Is4()
	peerSize := 18
	if v4 {
		peerSize = 6
	}
	// Negative (BEP 15's -1) or 0 means the default: several clients send 0.
	want := u.cfg.NumWantDefault
	if req.NumWant > 0 {
		want = u.cfg.numWant(int64(req.NumWant))
	}
	want = min(want, (MaxUDPReply-20)/peerSize)
	res, err := u.cfg.Store.Announce(ctx, peers.Announce{
		InfoHash: req.InfoHash,
		Peer:     peers.Peer{ID: req.PeerID, Addr: netip.AddrPortFrom(ip, req.Port)},
		Left:     req.Left,
		Event:    req.Event,
		NumWant:  want,
		PeerBuf:  sc.peers,
	})
	if err != nil {
		u.cfg.Logger.Error("udp announce", "err", fmt.Errorf("peer store: %w", err))
		return udpError(sc.out[:0], req.TransactionID, "internal error"), resultError
	}
	if cap(res.Peers) <= 4*u.cfg.NumWantMax {
		sc.peers = res.Peers[:0]
	}
	b := binary.BigEndian.AppendUint32(sc.out[:0], udpActionAnnounce)
	b = binary.BigEndian.AppendUint32(b, req.TransactionID)
	b = binary.BigEndian.AppendUint32(b, uint32(u.cfg.Interval/time.Second))
	b = binary.BigEndian.AppendUint32(b, uint32(res.Incomplete))
	b = binary.BigEndian.AppendUint32(b, uint32(res.Complete))
	// The reply format follows the source's family: the client can only
	// reach peers of that family through this socket anyway.
	for _, p := range res.Peers {
		a := p.Addr.Addr().Unmap()
		if a.Is4() != v4 || len(b)+peerSize > MaxUDPReply {
			continue
		}
		if v4 {
			x := a.As4()
			b = append(b, x[:]...)
		} else {
			x := a.As16()
			b = append(b, x[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, p.Addr.Port())
	}
	return b, resultOK
}

func (u *UDP) scrape(ctx context.Context, sc *udpScratch, req UDPRequest) ([]byte, int) {
	result := resultOK
	// Untracked infohashes are answered with zeros: the reply is
	// positional. A taken-down one fails the scrape, as over HTTP.
	hashes := req.InfoHashes
	var tracked [MaxScrapeHashesUDP]bool
	for i, ih := range hashes {
		served, err := u.cfg.serves(ctx, ih)
		if err != nil {
			u.cfg.Logger.Error("udp scrape", "err", err)
			return udpError(sc.out[:0], req.TransactionID, "internal error"), resultError
		}
		if served == resultTakenDown {
			return udpError(sc.out[:0], req.TransactionID, TakenDownReason), resultTakenDown
		}
		tracked[i] = served == resultOK
		if !tracked[i] {
			result = resultUnregistered
		}
	}
	swarms, err := u.cfg.Store.Scrape(ctx, hashes)
	if err != nil {
		u.cfg.Logger.Error("udp scrape", "err", fmt.Errorf("peer store: %w", err))
		return udpError(sc.out[:0], req.TransactionID, "internal error"), resultError
	}
	b := binary.BigEndian.AppendUint32(sc.out[:0], udpActionScrape)
	b = binary.BigEndian.AppendUint32(b, req.TransactionID)
	for i, sw := range swarms {
		if !tracked[i] {
			sw = peers.Swarm{}
		}
		b = binary.BigEndian.AppendUint32(b, uint32(sw.Complete))
		b = binary.BigEndian.AppendUint32(b, uint32(sw.Downloaded))
		b = binary.BigEndian.AppendUint32(b, uint32(sw.Incomplete))
	}
	return b, result
}
