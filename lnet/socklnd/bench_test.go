package socklnd

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

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

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(b *testing.B) (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-accepted
	b.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// rawPingPong times n round trips of size-byte messages over raw TCP.
func rawPingPong(b *testing.B, n, size int) time.Duration {
	client, server := tcpPair(b)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, size)
		for range n {
			if _, err := io.ReadFull(server, buf); err != nil {
				b.Error(err)
				return
			}
			if _, err := server.Write(buf); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	buf := make([]byte, size)
	start := time.Now()
	for range n {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	wg.Wait()
	return d
}

// BenchmarkSockPingPong: 64-byte PUTs bounced between two NIs, one at a time.
func BenchmarkSockPingPong(b *testing.B) {
	const size = 64
	raw := rawPingPong(b, b.N, size)
	payload := make([]byte, size)
	got := make(chan struct{}, 1)
	ha := &benchHost{sink: make([]byte, size), onRecv: func(lnet.NI, *lnet.Header) { got <- struct{}{} }}
	hb := &benchHost{sink: make([]byte, size)}
	hb.onRecv = func(ni lnet.NI, hdr *lnet.Header) {
		ni.Send(newPut(ni.NID(), hdr.Src, payload, func(error) {}))
	}
	a, bb := benchPair(b, ha, hb)
	// Connect both ways before timing.
	a.Send(newPut(a.NID(), bb.NID(), payload, func(error) {}))
	<-got
	b.SetBytes(2 * size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		a.Send(newPut(a.NID(), bb.NID(), payload, func(error) {}))
		<-got
	}
	d := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(raw)/float64(d), "x-of-raw-tcp")
}

// rawStream times n messages of size bytes streamed over raw TCP into a
// reused sink.
func rawStream(b *testing.B, n, size int) time.Duration {
	client, server := tcpPair(b)
	payload := make([]byte, size)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sink := make([]byte, size)
		for range n {
			if _, err := io.ReadFull(server, sink); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	start := time.Now()
	for range n {
		if _, err := client.Write(payload); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	return time.Since(start)
}

// BenchmarkSockBulk: PUTs of 1 MiB and 4 MiB streamed from one NI to
// another with 8 in flight (LNet's default peer credits), each received into
// a reused sink.
func BenchmarkSockBulk(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"1MiB", 1 << 20}, {"4MiB", 4 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			raw := rawStream(b, b.N, bc.size)
			payload := make([]byte, bc.size)
			got := make(chan struct{}, 64)
			hb := &benchHost{sink: make([]byte, bc.size), onRecv: func(lnet.NI, *lnet.Header) { got <- struct{}{} }}
			a, bb := benchPair(b, &benchHost{sink: make([]byte, 0)}, hb)
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
			put() // connect before timing
			<-got
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			go func() {
				for range b.N {
					put()
				}
			}()
			for range b.N {
				<-got
			}
			d := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(raw)/float64(d), "x-of-raw-tcp")
		})
	}
}
