package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// BEP 15 constants.
const (
	protocolID     = 0x41727101980
	actionConnect  = 0
	actionAnnounce = 1
	actionError    = 3

	connectRequestLen  = 16
	connectResponseLen = 16
	announceRequestLen = 98
	announceHeaderLen  = 20 // action, transaction id, interval, leechers, seeders
	compactPeerLen     = 6  // IPv4 address and port
)

// announceParams is what one announce says about one peer in one swarm.
type announceParams struct {
	ConnectionID  uint64
	TransactionID uint32
	InfoHash      [20]byte
	PeerID        [20]byte
	Downloaded    uint64
	Left          uint64
	Uploaded      uint64
	Event         uint32 // 0 none, 1 completed, 2 started, 3 stopped
	Key           uint32
	NumWant       int32
	Port          uint16
}

// announceReply is the decoded part of an announce reply that the load
// generator checks and reports.
type announceReply struct {
	TransactionID uint32
	Interval      uint32
	Leechers      uint32
	Seeders       uint32
	Peers         int // compact IPv4 peers in the reply
}

// trackerError is a BEP 15 error packet (action 3): the tracker refused.
type trackerError struct {
	TransactionID uint32
	Message       string
}

func (e *trackerError) Error() string { return "tracker error: " + e.Message }

var errShortPacket = errors.New("packet too short")

// appendConnect appends a connect request to b.
func appendConnect(b []byte, transactionID uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, protocolID)
	b = binary.BigEndian.AppendUint32(b, actionConnect)
	return binary.BigEndian.AppendUint32(b, transactionID)
}

// appendAnnounce appends an IPv4 announce request to b (the IP field is 0:
// the tracker uses the packet's source address).
func appendAnnounce(b []byte, p *announceParams) []byte {
	b = binary.BigEndian.AppendUint64(b, p.ConnectionID)
	b = binary.BigEndian.AppendUint32(b, actionAnnounce)
	b = binary.BigEndian.AppendUint32(b, p.TransactionID)
	b = append(b, p.InfoHash[:]...)
	b = append(b, p.PeerID[:]...)
	b = binary.BigEndian.AppendUint64(b, p.Downloaded)
	b = binary.BigEndian.AppendUint64(b, p.Left)
	b = binary.BigEndian.AppendUint64(b, p.Uploaded)
	b = binary.BigEndian.AppendUint32(b, p.Event)
	b = binary.BigEndian.AppendUint32(b, 0) // IP address: use the source
	b = binary.BigEndian.AppendUint32(b, p.Key)
	b = binary.BigEndian.AppendUint32(b, uint32(p.NumWant))
	return binary.BigEndian.AppendUint16(b, p.Port)
}

// parseHeader reads a reply's action and transaction id and, for an error
// packet, returns it as a *trackerError.
func parseHeader(pkt []byte) (action, transactionID uint32, err error) {
	if len(pkt) < 8 {
		return 0, 0, fmt.Errorf("reply of %d bytes: %w", len(pkt), errShortPacket)
	}
	action = binary.BigEndian.Uint32(pkt)
	transactionID = binary.BigEndian.Uint32(pkt[4:])
	if action == actionError {
		return action, transactionID, &trackerError{TransactionID: transactionID, Message: string(pkt[8:])}
	}
	return action, transactionID, nil
}

// parseConnectReply decodes a connect reply.
func parseConnectReply(pkt []byte) (transactionID uint32, connectionID uint64, err error) {
	action, tid, err := parseHeader(pkt)
	if err != nil {
		return tid, 0, err
	}
	if action != actionConnect {
		return tid, 0, fmt.Errorf("connect reply has action %d", action)
	}
	if len(pkt) < connectResponseLen {
		return tid, 0, fmt.Errorf("connect reply of %d bytes: %w", len(pkt), errShortPacket)
	}
	return tid, binary.BigEndian.Uint64(pkt[8:]), nil
}

// parseAnnounceReply decodes an IPv4 announce reply.
func parseAnnounceReply(pkt []byte) (announceReply, error) {
	action, tid, err := parseHeader(pkt)
	if err != nil {
		return announceReply{TransactionID: tid}, err
	}
	if action != actionAnnounce {
		return announceReply{TransactionID: tid}, fmt.Errorf("announce reply has action %d", action)
	}
	if len(pkt) < announceHeaderLen {
		return announceReply{TransactionID: tid}, fmt.Errorf("announce reply of %d bytes: %w", len(pkt), errShortPacket)
	}
	peers := pkt[announceHeaderLen:]
	if len(peers)%compactPeerLen != 0 {
		return announceReply{TransactionID: tid}, fmt.Errorf("announce reply has %d bytes of peers, not a multiple of %d", len(peers), compactPeerLen)
	}
	return announceReply{
		TransactionID: tid,
		Interval:      binary.BigEndian.Uint32(pkt[8:]),
		Leechers:      binary.BigEndian.Uint32(pkt[12:]),
		Seeders:       binary.BigEndian.Uint32(pkt[16:]),
		Peers:         len(peers) / compactPeerLen,
	}, nil
}
