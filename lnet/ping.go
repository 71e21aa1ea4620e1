package lnet

import (
	"context"
	"encoding/binary"
	"fmt"
)

// The ping info every instance serves on ReservedPortal/PingMatchBits
// (Lustre's lnet_ping_info), little-endian:
//
//	magic   u32  pingInfoMagic
//	version u16  pingInfoVersion
//	flags   u16  0
//	pid     u32  the instance's PID
//	count   u32  number of NIDs that follow
//	nids    count × NIDWireSize bytes (AppendNID)
const (
	pingInfoVersion = 1
	pingInfoHdr     = 16
	// MaxPingNIDs bounds the NIDs a ping reply may list.
	MaxPingNIDs = 64
	pingInfoMax = pingInfoHdr + MaxPingNIDs*NIDWireSize
)

func encodePingInfo(pid uint32, nids []NID) []byte {
	nids = nids[:min(len(nids), MaxPingNIDs)]
	b := make([]byte, pingInfoHdr, pingInfoHdr+len(nids)*NIDWireSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], pingInfoMagic)
	le.PutUint16(b[4:], pingInfoVersion)
	le.PutUint32(b[8:], pid)
	le.PutUint32(b[12:], uint32(len(nids)))
	for _, n := range nids {
		b = AppendNID(b, n)
	}
	return b
}

// DecodePingInfo parses a ping reply into the peer's process ids.
func DecodePingInfo(b []byte) ([]ProcessID, error) {
	if len(b) < pingInfoHdr {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadPingInfo, len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != pingInfoMagic {
		return nil, fmt.Errorf("%w: magic %#x", ErrBadPingInfo, m)
	}
	if v := le.Uint16(b[4:]); v != pingInfoVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadPingInfo, v)
	}
	if f := le.Uint16(b[6:]); f != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrBadPingInfo, f)
	}
	pid := le.Uint32(b[8:])
	n := le.Uint32(b[12:])
	if n > MaxPingNIDs || int(n)*NIDWireSize != len(b)-pingInfoHdr {
		return nil, fmt.Errorf("%w: %d NIDs in %d bytes", ErrBadPingInfo, n, len(b))
	}
	out := make([]ProcessID, n)
	for i := range out {
		nid, err := DecodeNID(b[pingInfoHdr+i*NIDWireSize:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPingInfo, err)
		}
		if nid.IsZero() {
			return nil, fmt.Errorf("%w: NID %d is empty", ErrBadPingInfo, i)
		}
		out[i] = ProcessID{NID: nid, PID: pid}
	}
	return out, nil
}

// Ping asks target for its NIDs (a GET on the reserved portal), waiting
// until ctx is done (`lctl ping NID timeout`). The answer lists the NIDs the
// peer has configured, with its PID.
func (ln *LNet) Ping(ctx context.Context, target NID) ([]ProcessID, error) {
	buf := make([]byte, pingInfoMax)
	evs := make(chan Event, 4) // SEND, REPLY, and possibly UNLINK: never full
	h, err := ln.Bind(MD{Buf: buf, Threshold: 2, Handler: func(ev Event) { evs <- ev }})
	if err != nil {
		return nil, err
	}
	defer h.Unlink()
	if err := ln.Get(h, GetArgs{Target: ProcessID{NID: target, PID: PIDAny},
		Portal: ReservedPortal, MatchBits: PingMatchBits}); err != nil {
		return nil, fmt.Errorf("lnet: ping %v: %w", target, err)
	}
	for {
		select {
		case ev := <-evs:
			switch {
			case ev.Err != nil:
				return nil, fmt.Errorf("lnet: ping %v: %w", target, ev.Err)
			case ev.Type == EventReply:
				return DecodePingInfo(buf[:ev.MLength])
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: ping %v: %w", ErrTimeout, target, context.Cause(ctx))
		}
	}
}
