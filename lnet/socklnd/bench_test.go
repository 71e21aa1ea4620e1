package socklnd

import (
	"io"
	"testing"

	"github.com/stria-fs/stria/internal/benchcmp"

	"github.com/stria-fs/stria/lnet"
)

// Each benchmark measures raw TCP over loopback moving the same payload
// bytes the same way in the same run, and reports the LND's speed as a
// fraction of it ("x-of-raw-tcp": 1 is as fast as raw TCP).

// benchHost receives into a reused sink and hands each arrival to onRecv.
type benchHost struct {
	sink   []byte
	onRecv func(ni lnet.NI, hdr *lnet.Header)
}

func (h *benchHost) Receive(ni lnet.NI, _ lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	hd := *hdr
	rx.Recv(h.sink[:hd.PayloadLen], func(err error) {
		if err != nil {
			panic(err) // benchmarks run on a healthy loopback
		}
		h.onRecv(ni, &hd)
	})
}

func (h *benchHost) PeerState(lnet.NI, lnet.NID, bool, error) {}

// benchPair starts two NIs whose hosts are ha and hb.
func benchPair(b *testing.B, ha, hb *benchHost) (*NI, *NI) {
	h := newHarness(Config{})
	start := func(i int, host lnet.Host) *NI {
		nid := h.NID(i)
		ni, err := h.lnd.start(b.Context(), lnet.NIConfig{Net: nid.Net, Interfaces: []string{nid.Addr.String()}}, host)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ni.Close() })
		h.mu.Lock()
		h.ports[nid] = ni.AddrPort()
		h.mu.Unlock()
		return ni
	}
	return start(0, ha), start(1, hb)
}

// newPut returns a PUT of payload from src to dst that calls done when it completes.
func newPut(src, dst lnet.NID, payload []byte, done func(error)) *lnet.Tx {
	return &lnet.Tx{
		Dest: dst,
		Hdr: lnet.Header{Dest: dst, Src: src, Type: lnet.MsgPut, PayloadLen: uint32(len(payload)),
			DestPID: lnet.PIDLustre, SrcPID: lnet.PIDLustre},
		Payload:    payload,
		OnComplete: func(_ *lnet.Tx, err error) { done(err) },
	}
}

// BenchmarkSockPingPong: 64-byte PUTs bounced between two NIs, one at a
// time, against 64-byte writes bounced over one raw TCP connection.
func BenchmarkSockPingPong(b *testing.B) {
	const size = 64
	client, server := benchcmp.TCPPair(b)
	go func() { // echo until the connection closes
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(server, buf); err != nil {
				return
			}
			if _, err := server.Write(buf); err != nil {
				return
			}
		}
	}()
	rbuf := make([]byte, size)
	raw := func(n int) {
		for range n {
			if _, err := client.Write(rbuf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(client, rbuf); err != nil {
				b.Fatal(err)
			}
		}
	}

	payload := make([]byte, size)
	got := make(chan struct{}, 1)
	ha := &benchHost{sink: make([]byte, size), onRecv: func(lnet.NI, *lnet.Header) { got <- struct{}{} }}
	hb := &benchHost{sink: make([]byte, size)}
	hb.onRecv = func(ni lnet.NI, hdr *lnet.Header) {
		ni.Send(newPut(ni.NID(), hdr.Src, payload, func(error) {}))
	}
	a, bb := benchPair(b, ha, hb)
	lnd := func(n int) {
		for range n {
			a.Send(newPut(a.NID(), bb.NID(), payload, func(error) {}))
			<-got
		}
	}
	lnd(1) // connect both ways
	raw(1)
	b.SetBytes(2 * size)
	b.ReportAllocs()
	benchcmp.Interleave(b, b.N/20, "x-of-raw-tcp", raw, lnd)
}

// BenchmarkSockBulk: PUTs of 1 MiB and 4 MiB streamed from one NI to
// another with 8 in flight (LNet's default peer credits), each received into
// a reused sink, against the same payloads streamed over one raw TCP
// connection.
func BenchmarkSockBulk(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"1MiB", 1 << 20}, {"4MiB", 4 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			payload := make([]byte, bc.size)
			got := make(chan struct{}, 64)

			client, server := benchcmp.TCPPair(b)
			go func() { // read whole messages until the connection closes
				sink := make([]byte, bc.size)
				for {
					if _, err := io.ReadFull(server, sink); err != nil {
						return
					}
					got <- struct{}{}
				}
			}()
			raw := func(n int) {
				go func() {
					for range n {
						if _, err := client.Write(payload); err != nil {
							return
						}
					}
				}()
				for range n {
					<-got
				}
			}

			hb := &benchHost{sink: make([]byte, bc.size), onRecv: func(lnet.NI, *lnet.Header) { got <- struct{}{} }}
			a, bb := benchPair(b, &benchHost{}, hb)
			credits := make(chan struct{}, lnet.DefaultPeerCredits)
			put := func() {
				credits <- struct{}{}
				a.Send(newPut(a.NID(), bb.NID(), payload, func(err error) {
					if err != nil {
						panic(err)
					}
					<-credits
				}))
			}
			lnd := func(n int) {
				go func() {
					for range n {
						put()
					}
				}()
				for range n {
					<-got
				}
			}
			lnd(1) // connect
			raw(1)
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			benchcmp.Interleave(b, b.N/20, "x-of-raw-tcp", raw, lnd)
		})
	}
}
