package btclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	alog "github.com/anacrolix/log"
	"github.com/anacrolix/upnp"
)

// PortMapping is a port forwarded to this host by UPnP-IGD routers of its
// local networks. anacrolix can ask for one itself (Options.UPnP), but
// keeps no word of whether it got one; a player counts the connections
// that came through its mapping, so it asks itself.
type PortMapping struct {
	Port       int    // forwarded, TCP and UDP, to the same port here
	ExternalIP net.IP // the router's outside address, when it says
	devices    []upnp.Device
	log        *slog.Logger
}

// discoverTimeout is how long MapPort listens for routers' answers.
const discoverTimeout = 2 * time.Second

// MapPort asks every UPnP-IGD router that answers within two seconds to
// forward port, TCP and UDP, to this host (no lease: until Close). It
// fails when no router mapped both.
func MapPort(port int, log *slog.Logger) (*PortMapping, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	devs := upnp.Discover(0, discoverTimeout, alog.Default.FilterLevel(alog.Warning))
	if len(devs) == 0 {
		return nil, errors.New("port mapping: no UPnP-IGD router answered")
	}
	m := &PortMapping{Port: port, log: log}
	var errs []error
	for _, d := range devs {
		tcp, err := d.AddPortMapping(upnp.TCP, port, port, "peertune", 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("router at %v, TCP: %w", d.GetLocalIPAddress(), err))
			continue
		}
		udp, err := d.AddPortMapping(upnp.UDP, port, port, "peertune", 0)
		if err != nil || tcp != port || udp != port {
			d.DeletePortMapping(upnp.TCP, tcp)
			if err == nil {
				d.DeletePortMapping(upnp.UDP, udp)
				err = fmt.Errorf("external ports %d/%d, not %d", tcp, udp, port)
			}
			errs = append(errs, fmt.Errorf("router at %v, UDP: %w", d.GetLocalIPAddress(), err))
			continue
		}
		m.devices = append(m.devices, d)
		if ip, err := d.GetExternalIPAddress(); err == nil && m.ExternalIP == nil {
			m.ExternalIP = ip
		}
	}
	if len(m.devices) == 0 {
		return nil, fmt.Errorf("port mapping: %w", errors.Join(errs...))
	}
	return m, nil
}

// Close removes the mappings.
func (m *PortMapping) Close() {
	for _, d := range m.devices {
		for _, p := range []upnp.Protocol{upnp.TCP, upnp.UDP} {
			if err := d.DeletePortMapping(p, m.Port); err != nil {
				m.log.Debug("removing a port mapping", "router", d.GetLocalIPAddress(), "proto", p, "err", err)
			}
		}
	}
	m.devices = nil
}
