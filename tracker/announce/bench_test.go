package announce

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler, not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkHTTPAnnounce(b *testing.B) {
	f := newFixture(b, nil, nil)
	h, err := NewHTTP(f.cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		req := httptest.NewRequest(http.MethodGet, "/announce?"+announceQuery(ih(1), pid(i), 7000+i, i%2), nil)
		h.ServeAnnounce(&discardWriter{h: http.Header{}}, req)
	}
	req := httptest.NewRequest(http.MethodGet, "/announce?"+announceQuery(ih(1), pid(1000), 9000, 5), nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeAnnounce(w, req)
	}
}

func BenchmarkUDPAnnounce(b *testing.B) {
	f := newFixture(b, nil, nil)
	u, err := NewUDP(f.cfg)
	if err != nil {
		b.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:9000")
	sc := &udpScratch{}
	for i := range 100 {
		u.handle(b.Context(), sc, announcePacket(u.connID(from, u.window()), 1, ih(1), pid(i), uint64(i%2), 2, -1, uint16(7000+i)), from)
	}
	pkt := announcePacket(u.connID(from, u.window()), 1, ih(1), pid(1000), 5, 0, -1, 9000)
	b.ReportAllocs()
	for b.Loop() {
		if r := u.handle(b.Context(), sc, pkt, from); len(r) < 20 {
			b.Fatalf("reply %x", r)
		}
	}
}
