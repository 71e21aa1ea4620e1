package socklnd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
)

// harness runs socklnd NIs on 127.0.0.10+i with ephemeral ports; Resolve
// finds a node's port in its table.
type harness struct {
	lnd *LND
	// logger, when set, replaces the per-test zaptest logger.
	logger func(t *testing.T, i int) *zap.Logger

	mu    sync.Mutex
	ports map[lnet.NID]netip.AddrPort
}

var (
	_ lndtest.Harness      = (*harness)(nil)
	_ lndtest.RawConnector = (*harness)(nil)
)

// newHarness returns a harness whose LND has short back-offs and cfg's
// other settings.
func newHarness(cfg Config) *harness {
	h := &harness{ports: map[lnet.NID]netip.AddrPort{}}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin, cfg.ReconnectMax = 5*time.Millisecond, 50*time.Millisecond
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 2 * lndtest.Patience
	}
	if cfg.Timeout == 0 {
		// Longer than the suite's patience: a connection that bad input
		// should close must not be closed by a timeout instead.
		cfg.Timeout = 2 * lndtest.Patience
	}
	cfg.Resolve = h.resolve
	h.lnd = New(cfg)
	return h
}

func (h *harness) resolve(nid lnet.NID) (netip.AddrPort, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ap, ok := h.ports[nid]
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no node has NID %v", nid)
	}
	return ap, nil
}

func (h *harness) NID(i int) lnet.NID {
	return lnet.NID{Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}), Net: lnet.Net{Type: lnet.SockLND}}
}

func (h *harness) Start(t *testing.T, i int, host lnet.Host) lnet.NI {
	t.Helper()
	ni := h.start(t, i, host)
	return ni
}

// start starts node i and returns it as an *NI.
func (h *harness) start(t *testing.T, i int, host lnet.Host) *NI {
	t.Helper()
	nid := h.NID(i)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(nid.String())
	if h.logger != nil {
		log = h.logger(t, i)
	}
	ni, err := h.lnd.start(context.Background(), lnet.NIConfig{
		Net:        nid.Net,
		Interfaces: []string{nid.Addr.String()},
		Logger:     log,
	}, host)
	if err != nil {
		t.Fatalf("start node %d: %v", i, err)
	}
	t.Cleanup(func() { _ = ni.Close() })
	h.mu.Lock()
	h.ports[nid] = ni.AddrPort()
	h.mu.Unlock()
	return ni
}

func (h *harness) DialRaw(t *testing.T, i int) net.Conn {
	t.Helper()
	ap, err := h.resolve(h.NID(i))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatalf("dial node %d: %v", i, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (h *harness) Handshake(t *testing.T, c net.Conn, i int, from lnet.NID) error {
	return rawHello(c, hello{Type: connControl, Src: from, Dst: h.NID(i), SrcInc: 1})
}

// rawHello sends req on c and checks the answer.
func rawHello(c net.Conn, req hello) error {
	var b [HelloSize]byte
	req.encode(b[:])
	if _, err := c.Write(b[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	var rep hello
	if err := rep.decode(b[:]); err != nil {
		return err
	}
	if rep.Flags != 0 || rep.Src != req.Dst || rep.Dst != req.Src || rep.Type != req.Type.flip() {
		return fmt.Errorf("unexpected answer %+v", rep)
	}
	return nil
}

func (h *harness) Frame(hdr lnet.Header, payload []byte) []byte {
	return rawFrame(hdr, payload)
}

// rawFrame encodes one LNET frame as a writer would.
func rawFrame(hdr lnet.Header, payload []byte) []byte {
	b := make([]byte, FrameHeaderSize+lnet.HeaderSize, FrameHeaderSize+lnet.HeaderSize+len(payload))
	fh := frameHeader{Type: frameLNet, Length: lnet.HeaderSize + uint32(len(payload))}
	fh.encode(b)
	hdr.Encode(b[FrameHeaderSize:])
	return append(b, payload...)
}
