package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrUnsupported is wrapped by New's error when this machine cannot make
// a lab (no root, no iproute2, no namespaces).
var ErrUnsupported = errors.New("network namespaces unavailable")

// Addressing. Homes behind NAT get a private /24 each. The public segment
// is one /16 of global unicast addresses, as a home router's outside
// address is: miniupnpd (Debian's 2.3.1, which has no option to allow it)
// refuses to map ports on a router whose outside address is private or
// reserved. No namespace of the lab has a route out of it, so nothing
// leaves, and no one outside is reached.
const (
	publicPrefixLen = 16
	maxHomesNAT     = 250
)

var publicNet = netip.MustParsePrefix("11.200.0.0/16")

// Link shapes the line between a home and the public segment.
type Link struct {
	// Up and Down cap the home's upload and download in bytes per
	// second (tc tbf); 0 leaves that direction uncapped.
	Up, Down int64
	// RTT is the round trip the line adds between the home and the
	// public segment, half of it each way.
	RTT time.Duration
}

// Home describes a listener's home.
type Home struct {
	// NAT puts the home behind a router that masquerades it; otherwise
	// the home has an address of its own on the public segment.
	NAT bool
	// UPnP runs a UPnP-IGD and NAT-PMP server (miniupnpd) on the home's
	// router, which maps ports for the home when asked; it needs NAT.
	UPnP bool
	Link Link
}

// Host is one machine of the lab: a network namespace with one address.
type Host struct {
	Name string
	// NS is the host's network namespace (for ip netns exec).
	NS string
	// Addr is the host's own address; PublicAddr is the address the
	// public segment sees it by: Addr, or its router's for a home behind NAT.
	Addr, PublicAddr netip.Addr
	// Router is the namespace of a NAT home's router, "" otherwise.
	Router string

	lab *Lab
}

// Command returns cmd to run name with args inside the host's namespace.
// The process gets the host's network only; its files are the machine's.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// DialContext dials addr from inside the host's namespace: the socket is
// made there (on a thread that enters it), then used from anywhere. It
// lets a test talk to the lab's servers from its own process.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(h.NS, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient is an HTTP client whose connections start at the host.
func (h *Host) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: h.DialContext, DisableKeepAlives: true},
	}
}

// Lab is a set of namespaces this process made; Close removes them.
type Lab struct {
	log    *slog.Logger
	prefix string // every namespace's name starts with it
	pub    string // the public segment's namespace

	mu        sync.Mutex
	ns        []string // every namespace made, in order
	nextPub   int      // public addresses handed out
	nextHome  int      // NAT homes made
	nextPort  int      // ports of the public bridge made
	hosts     map[string]*Host
	lines     []*delayLine
	closed    bool
	lineCtx   context.Context
	lineStop  context.CancelFunc
	lineGroup sync.WaitGroup
	daemons   sync.WaitGroup // waits for the routers' miniupnpd
	dir       string         // the routers' miniupnpd files; "" until one is made
}

// New makes a lab's public segment, after reaping the namespaces of labs
// whose process has died. log may be nil.
func New(ctx context.Context, log *slog.Logger) (*Lab, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("netlab: %w: ip (iproute2) not found", ErrUnsupported)
	}
	if err := Reap(ctx, log); err != nil {
		return nil, fmt.Errorf("netlab: reap stale labs: %w", err)
	}
	var id [3]byte
	_, _ = rand.Read(id[:])
	l := &Lab{
		log:    log,
		prefix: fmt.Sprintf("%s%d.%s-", namePrefix, os.Getpid(), hex.EncodeToString(id[:])),
		hosts:  map[string]*Host{},
	}
	l.lineCtx, l.lineStop = context.WithCancel(context.Background())
	l.pub = l.prefix + "public"
	if err := l.addNS(ctx, l.pub); err != nil {
		l.Close()
		if isPermission(err) {
			return nil, fmt.Errorf("netlab: %w: %v", ErrUnsupported, err)
		}
		return nil, err
	}
	if err := l.ipAll(ctx, l.pub,
		"link add br0 type bridge",
		"link set br0 up",
	); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func isPermission(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Operation not permitted") || strings.Contains(s, "Permission denied")
}

// AddPublic adds a host on the public segment with no shaping: a
// tracker's or a seed server's machine in a data centre.
func (l *Lab) AddPublic(ctx context.Context, name string) (*Host, error) {
	h, err := l.newHost(name)
	if err != nil {
		return nil, err
	}
	h.Addr = l.publicAddr()
	h.PublicAddr = h.Addr
	if err := l.addNS(ctx, h.NS); err != nil {
		return nil, err
	}
	port := l.portName()
	if err := l.ipAll(ctx, h.NS,
		fmt.Sprintf("link add eth0 type veth peer name %s netns %s", port, l.pub),
		fmt.Sprintf("addr add %s/%d dev eth0", h.Addr, publicPrefixLen),
		"link set eth0 up",
	); err != nil {
		return nil, err
	}
	if err := l.ipAll(ctx, l.pub, fmt.Sprintf("link set %s master br0 up", port)); err != nil {
		return nil, err
	}
	return h, nil
}

// AddHome adds a listener's home: a host behind a shaped line, and behind
// a NAT router when home.NAT.
func (l *Lab) AddHome(ctx context.Context, name string, home Home) (*Host, error) {
	h, err := l.newHost(name)
	if err != nil {
		return nil, err
	}
	link := h.NS + "-link"
	if err := l.addNS(ctx, h.NS); err != nil {
		return nil, err
	}
	if err := l.addNS(ctx, link); err != nil {
		return nil, err
	}
	port := l.portName()
	if err := l.ipAll(ctx, link,
		fmt.Sprintf("link add wan0 type veth peer name %s netns %s", port, l.pub),
	); err != nil {
		return nil, err
	}
	if err := l.ipAll(ctx, l.pub, fmt.Sprintf("link set %s master br0 up", port)); err != nil {
		return nil, err
	}
	wan := l.publicAddr()
	if home.NAT {
		n, err := l.homeNumber()
		if err != nil {
			return nil, err
		}
		h.Router = h.NS + "-router"
		h.Addr = netip.AddrFrom4([4]byte{192, 168, byte(n), 2})
		h.PublicAddr = wan
		gw := netip.AddrFrom4([4]byte{192, 168, byte(n), 1})
		if err := l.addNS(ctx, h.Router); err != nil {
			return nil, err
		}
		if err := l.ipAll(ctx, link, fmt.Sprintf("link add home0 type veth peer name wan netns %s", h.Router)); err != nil {
			return nil, err
		}
		if err := l.ipAll(ctx, h.Router,
			fmt.Sprintf("link add lan type veth peer name eth0 netns %s", h.NS),
			fmt.Sprintf("addr add %s/%d dev wan", wan, publicPrefixLen),
			fmt.Sprintf("addr add %s/24 dev lan", gw),
			"link set wan up",
			"link set lan up",
		); err != nil {
			return nil, err
		}
		if err := l.run(ctx, nil, "ip", "netns", "exec", h.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return nil, err
		}
		if err := l.run(ctx, strings.NewReader(natRuleset), "ip", "netns", "exec", h.Router, "nft", "-f", "-"); err != nil {
			return nil, err
		}
		if err := l.ipAll(ctx, h.NS,
			fmt.Sprintf("addr add %s/24 dev eth0", h.Addr),
			"link set eth0 up",
			fmt.Sprintf("route add default via %s", gw),
		); err != nil {
			return nil, err
		}
		if home.UPnP {
			if err := l.startUPnP(ctx, h.Router, n); err != nil {
				return nil, fmt.Errorf("netlab: UPnP on %s's router: %w", name, err)
			}
		}
	} else {
		if home.UPnP {
			return nil, fmt.Errorf("netlab: home %q: UPnP needs NAT", name)
		}
		h.Addr, h.PublicAddr = wan, wan
		if err := l.ipAll(ctx, link, fmt.Sprintf("link add home0 type veth peer name eth0 netns %s", h.NS)); err != nil {
			return nil, err
		}
		if err := l.ipAll(ctx, h.NS,
			fmt.Sprintf("addr add %s/%d dev eth0", h.Addr, publicPrefixLen),
			"link set eth0 up",
		); err != nil {
			return nil, err
		}
	}
	if err := l.shapeLine(ctx, link, home.Link); err != nil {
		return nil, fmt.Errorf("netlab: line of %s: %w", name, err)
	}
	return h, nil
}

// natRuleset is a home router's: masquerade what leaves the outside
// interface, and drop what comes in on it unasked. The drop matters
// beyond realism: an unsolicited packet that the router accepted (and
// answered with a reset or an ICMP error) would leave a conntrack entry
// that makes masquerade pick another port for the home's own packet to
// that peer, and a hole punch would then miss.
const natRuleset = `table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
table ip filter {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
}
`

// upnpConfig is a home router's miniupnpd: it maps ports for the home's
// own addresses only (its secure mode: a host maps to itself).
const upnpConfig = `ext_ifname=wan
listening_ip=lan
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
system_uptime=yes
uuid=%s
lease_file=%s
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 192.168.%d.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`

// upnpRuleset is the tables miniupnpd puts its mappings in (Debian's
// package ships their set-up script without the functions it sources),
// and a hole in the router's firewall for what it DNATs.
const upnpRuleset = `table inet miniupnpd {
	chain forward {
		type filter hook forward priority filter; policy accept;
		jump miniupnpd
	}
	chain miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump postrouting_miniupnpd
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
insert rule ip filter forward iifname "wan" ct status dnat accept
`

// startUPnP runs miniupnpd in router ns (home number n) and waits until it
// answers on its NAT-PMP port. It lets the forwarded traffic past the
// router's firewall (ct status dnat: only what miniupnpd mapped is
// DNATed); miniupnpd adds its own tables for the mappings. The process
// dies with its namespace.
func (l *Lab) startUPnP(ctx context.Context, ns string, n int) error {
	if _, err := exec.LookPath("miniupnpd"); err != nil {
		return fmt.Errorf("%w: miniupnpd not found (Debian's miniupnpd-nftables)", ErrUnsupported)
	}
	if err := l.run(ctx, strings.NewReader(upnpRuleset), "ip", "netns", "exec", ns, "nft", "-f", "-"); err != nil {
		return err
	}
	l.mu.Lock()
	if l.dir == "" {
		d, err := os.MkdirTemp("", "ptlab-upnp-")
		if err != nil {
			l.mu.Unlock()
			return err
		}
		l.dir = d
	}
	dir := l.dir
	l.mu.Unlock()
	var uuid [16]byte
	_, _ = rand.Read(uuid[:])
	u := hex.EncodeToString(uuid[:])
	conf := filepath.Join(dir, fmt.Sprintf("home%d.conf", n))
	body := fmt.Sprintf(upnpConfig, u[:8]+"-"+u[8:12]+"-"+u[12:16]+"-"+u[16:20]+"-"+u[20:], filepath.Join(dir, fmt.Sprintf("home%d.leases", n)), n)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "miniupnpd", "-d", "-f", conf, "-P", filepath.Join(dir, fmt.Sprintf("home%d.pid", n)))
	logPath := filepath.Join(dir, fmt.Sprintf("home%d.log", n))
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	l.daemons.Add(1)
	go func() {
		defer l.daemons.Done()
		err := cmd.Wait()
		l.log.Debug("netlab: miniupnpd exited", "ns", ns, "err", err)
	}()
	// Up once its NAT-PMP socket (UDP 5351) is bound.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ss", "-Hulnp", "sport = :5351")
		b, _ := c.Output()
		if strings.Contains(string(b), "miniupnpd") {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("miniupnpd did not start in 5 s: %s", b)
		}
	}
}

// shapeLine joins the link namespace's two veths, home0 (towards the home)
// and wan0 (towards the public segment): through a delay line when the link
// has a round trip, by a bridge otherwise; then caps wan0's egress (upload)
// and home0's egress (download).
func (l *Lab) shapeLine(ctx context.Context, ns string, link Link) error {
	if link.RTT > 0 {
		if err := l.ipAll(ctx, ns,
			"link add brh type bridge", "link add brw type bridge",
			"link set home0 master brh", "link set wan0 master brw",
		); err != nil {
			return err
		}
		line, err := openDelayLine(ns, link.RTT/2)
		if err != nil {
			return err
		}
		if err := l.ipAll(ctx, ns,
			"link set taph master brh", "link set tapw master brw",
			"link set taph up", "link set tapw up", "link set brh up", "link set brw up",
		); err != nil {
			line.close()
			return err
		}
		if !l.startLine(line) {
			line.close()
			return errors.New("lab closed")
		}
	} else if err := l.ipAll(ctx, ns,
		"link add br type bridge", "link set home0 master br", "link set wan0 master br", "link set br up",
	); err != nil {
		return err
	}
	if err := l.ipAll(ctx, ns, "link set home0 up", "link set wan0 up"); err != nil {
		return err
	}
	for _, c := range []struct {
		dev  string
		rate int64
	}{{"wan0", link.Up}, {"home0", link.Down}} {
		if c.rate <= 0 {
			continue
		}
		if err := l.run(ctx, nil, "ip", append([]string{"netns", "exec", ns, "tc"}, tbfArgs(c.dev, c.rate)...)...); err != nil {
			return err
		}
	}
	return nil
}

// tbfArgs caps dev's egress at rate bytes per second. The bucket holds a
// few full frames (tbf needs at least one); the queue holds a quarter of
// a second, at least ten frames, as a home router's buffer would.
func tbfArgs(dev string, rate int64) []string {
	const frame = 1514
	burst := max(rate/50, 4*frame)
	limit := max(rate/4, 10*frame)
	return []string{"qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", fmt.Sprintf("%dbit", rate*8), "burst", fmt.Sprint(burst), "limit", fmt.Sprint(limit)}
}

func (l *Lab) startLine(d *delayLine) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.lines = append(l.lines, d)
	l.lineGroup.Add(1)
	go func() {
		defer l.lineGroup.Done()
		d.run(l.lineCtx)
	}()
	return true
}

// Close kills every process in the lab's namespaces and removes them (and
// with them every link, rule and TAP device of the lab). It is safe to
// call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	l.closed = true
	ns := append([]string(nil), l.ns...)
	l.mu.Unlock()
	l.lineStop()
	l.lineGroup.Wait()
	var errs []error
	// Homes before the public segment: the reverse of making.
	for i := len(ns) - 1; i >= 0; i-- {
		if err := removeNS(context.Background(), ns[i]); err != nil {
			errs = append(errs, err)
		}
	}
	l.daemons.Wait() // killed with their namespaces
	l.mu.Lock()
	l.ns = nil
	dir := l.dir
	l.dir = ""
	l.mu.Unlock()
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Namespaces lists the lab's namespaces, in the order made.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ns...)
}

func (l *Lab) newHost(name string) (*Host, error) {
	if name == "" || strings.ContainsAny(name, "/ \t\n") || len(name) > 32 {
		return nil, fmt.Errorf("netlab: bad host name %q", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("netlab: lab closed")
	}
	if _, ok := l.hosts[name]; ok {
		return nil, fmt.Errorf("netlab: host %q exists", name)
	}
	h := &Host{Name: name, NS: l.prefix + name, lab: l}
	l.hosts[name] = h
	return h, nil
}

// publicAddr hands out the next address of the public segment.
func (l *Lab) publicAddr() netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextPub++
	n := l.nextPub + 1 // 11.200.0.1 stays free
	b := publicNet.Addr().As4()
	b[2], b[3] = byte(n/250), byte(n%250+1)
	return netip.AddrFrom4(b)
}

func (l *Lab) portName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextPort++
	return fmt.Sprintf("p%d", l.nextPort)
}

func (l *Lab) homeNumber() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nextHome >= maxHomesNAT {
		return 0, fmt.Errorf("netlab: at most %d homes behind NAT", maxHomesNAT)
	}
	l.nextHome++
	return l.nextHome, nil
}

// addNS makes a namespace with loopback up and IPv6 off (the lab is IPv4
// only: no link-local chatter, no duplicate address detection to wait for).
func (l *Lab) addNS(ctx context.Context, ns string) error {
	if err := l.run(ctx, nil, "ip", "netns", "add", ns); err != nil {
		return err
	}
	l.mu.Lock()
	l.ns = append(l.ns, ns)
	l.mu.Unlock()
	if err := l.ipAll(ctx, ns, "link set lo up"); err != nil {
		return err
	}
	return l.run(ctx, nil, "ip", "netns", "exec", ns, "sysctl", "-qw",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
}

// ipAll runs each "ip -n ns …" command in order.
func (l *Lab) ipAll(ctx context.Context, ns string, cmds ...string) error {
	for _, c := range cmds {
		if err := l.run(ctx, nil, "ip", append([]string{"-n", ns}, strings.Fields(c)...)...); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) run(ctx context.Context, stdin *strings.Reader, name string, args ...string) error {
	return run(ctx, l.log, stdin, name, args...)
}

func run(ctx context.Context, log *slog.Logger, stdin *strings.Reader, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	log.Debug("netlab", "run", cmd.String())
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", cmd.String(), err, strings.TrimSpace(out.String()))
	}
	return nil
}
