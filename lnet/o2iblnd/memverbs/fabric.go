package memverbs

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// Fabric is an in-memory RDMA fabric: a set of devices that can reach each
// other. It implements verbs.Provider.
type Fabric struct {
	mu        sync.Mutex // guards the fields below
	devices   []*Device
	listeners map[netip.AddrPort]*listener
	mrs       map[uint32]*mr
	nextKey   uint32
	nextPort  uint16
	nextQPN   uint32

	pds, cqs, qps, nmrs, nlisteners, ctxs atomic.Int64
	rnr                                   atomic.Uint64
}

var _ verbs.Provider = (*Fabric)(nil)

// NewFabric returns an empty fabric.
func NewFabric() *Fabric {
	return &Fabric{
		listeners: map[netip.AddrPort]*listener{},
		mrs:       map[uint32]*mr{},
		nextKey:   0x100,
		nextPort:  49152,
		nextQPN:   0x40,
	}
}

// Stats counts what is alive on a fabric, and the RNR waits so far.
type Stats struct {
	Contexts, PDs, CQs, QPs, MRs, Listeners int64
	RNR                                     uint64
}

// Stats returns the fabric's counters.
func (f *Fabric) Stats() Stats {
	return Stats{
		Contexts: f.ctxs.Load(), PDs: f.pds.Load(), CQs: f.cqs.Load(), QPs: f.qps.Load(),
		MRs: f.nmrs.Load(), Listeners: f.nlisteners.Load(), RNR: f.rnr.Load(),
	}
}

// AddDevice plugs in an RDMA device called name (e.g. "mlx5_0") behind the
// network interface netdev (e.g. "ib0") whose address is addr.
func (f *Fabric) AddDevice(name, netdev string, addr netip.Addr) *Device {
	d := &Device{f: f, name: name, netdev: netdev, addr: addr.Unmap(), qps: map[*QP]struct{}{}}
	f.mu.Lock()
	f.devices = append(f.devices, d)
	f.mu.Unlock()
	return d
}

// Open implements verbs.Provider: ifname is a device's interface name or
// address.
func (f *Fabric) Open(ifname string) (verbs.Device, netip.Addr, error) {
	a, aerr := netip.ParseAddr(ifname)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.devices {
		if d.netdev == ifname || (aerr == nil && d.addr == a.Unmap()) {
			f.ctxs.Add(1)
			return &devctx{d: d}, d.addr, nil
		}
	}
	return nil, netip.Addr{}, fmt.Errorf("%w behind interface %q", verbs.ErrNoDevice, ifname)
}

// deviceAt returns the device with address a, or nil.
func (f *Fabric) deviceAt(a netip.Addr) *Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.devices {
		if d.addr == a.Unmap() {
			return d
		}
	}
	return nil
}

// lookupMR returns the live MR with key k, or nil.
func (f *Fabric) lookupMR(k uint32) *mr {
	f.mu.Lock()
	m := f.mrs[k]
	f.mu.Unlock()
	return m
}

// Device is an RDMA device on a fabric.
type Device struct {
	f      *Fabric
	name   string
	netdev string
	addr   netip.Addr

	linkDown atomic.Bool
	mrLimit  atomic.Int64
	liveMRs  atomic.Int64

	mu  sync.Mutex // guards qps
	qps map[*QP]struct{}
}

// Name is the device's name.
func (d *Device) Name() string { return d.name }

// Addr is the address of the device's interface.
func (d *Device) Addr() netip.Addr { return d.addr }

// SetLinkDown cuts the device off the fabric (true) or plugs it back (false).
func (d *Device) SetLinkDown(down bool) { d.linkDown.Store(down) }

// SetMRLimit makes RegMR fail with verbs.ErrNoMemory while the device holds
// n MRs or more; 0 removes the limit.
func (d *Device) SetMRLimit(n int) { d.mrLimit.Store(int64(n)) }

// MRs returns the number of live MRs registered on the device.
func (d *Device) MRs() int { return int(d.liveMRs.Load()) }

// QPs returns the device's live QPs, oldest first.
func (d *Device) QPs() []*QP {
	d.mu.Lock()
	out := make([]*QP, 0, len(d.qps))
	for q := range d.qps {
		out = append(out, q)
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].num < out[j].num })
	return out
}

// devctx is an opened device: verbs.Device.
type devctx struct {
	d *Device

	mu        sync.Mutex // guards the counts and closed
	pds, cqs  int
	listeners int
	closed    bool
}

var _ verbs.Device = (*devctx)(nil)

func (c *devctx) Name() string { return c.d.name }

func (c *devctx) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if c.pds != 0 || c.cqs != 0 || c.listeners != 0 {
		return fmt.Errorf("%w: device %s still has %d PDs, %d CQs, %d listeners", verbs.ErrInvalid, c.d.name, c.pds, c.cqs, c.listeners)
	}
	c.closed = true
	c.d.f.ctxs.Add(-1)
	return nil
}

func (c *devctx) count(p *int, delta int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed && delta > 0 {
		return fmt.Errorf("%w: device %s", verbs.ErrClosed, c.d.name)
	}
	*p += delta
	return nil
}

func (c *devctx) AllocPD() (verbs.PD, error) {
	if err := c.count(&c.pds, 1); err != nil {
		return nil, err
	}
	c.d.f.pds.Add(1)
	return &pd{c: c}, nil
}

// pd is a protection domain.
type pd struct {
	c      *devctx
	mu     sync.Mutex // guards nmr and closed
	nmr    int
	closed bool
}

func (p *pd) RegMR(buf []byte, access verbs.Access) (verbs.MR, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: empty buffer", verbs.ErrInvalid)
	}
	d := p.c.d
	if lim := d.mrLimit.Load(); lim > 0 && d.liveMRs.Load() >= lim {
		return nil, fmt.Errorf("%w: device %s holds %d MRs (limit)", verbs.ErrNoMemory, d.name, lim)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, verbs.ErrClosed
	}
	p.nmr++
	p.mu.Unlock()
	m := &mr{pd: p, buf: buf, addr: verbs.Addr(buf), access: access}
	f := d.f
	f.mu.Lock()
	f.nextKey++
	m.key = f.nextKey
	f.mrs[m.key] = m
	f.mu.Unlock()
	f.nmrs.Add(1)
	d.liveMRs.Add(1)
	return m, nil
}

func (p *pd) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if p.nmr != 0 {
		return fmt.Errorf("%w: PD still has %d MRs", verbs.ErrInvalid, p.nmr)
	}
	p.closed = true
	p.c.d.f.pds.Add(-1)
	return p.c.count(&p.c.pds, -1)
}

// mr is a registered memory region. Its key serves as LKey and RKey.
type mr struct {
	pd     *pd
	buf    []byte
	addr   uint64
	key    uint32
	access verbs.Access
	dead   atomic.Bool
}

func (m *mr) LKey() uint32 { return m.key }
func (m *mr) RKey() uint32 { return m.key }
func (m *mr) Addr() uint64 { return m.addr }
func (m *mr) Len() int     { return len(m.buf) }

func (m *mr) Close() error {
	if m.dead.Swap(true) {
		return nil
	}
	f := m.pd.c.d.f
	f.mu.Lock()
	delete(f.mrs, m.key)
	f.mu.Unlock()
	f.nmrs.Add(-1)
	m.pd.c.d.liveMRs.Add(-1)
	m.pd.mu.Lock()
	m.pd.nmr--
	m.pd.mu.Unlock()
	return nil
}

// slice returns the n bytes of m at address a, or false when they are not
// all inside m.
func (m *mr) slice(a uint64, n uint32) ([]byte, bool) {
	if a < m.addr || a-m.addr > uint64(len(m.buf)) || uint64(len(m.buf))-(a-m.addr) < uint64(n) {
		return nil, false
	}
	off := a - m.addr
	return m.buf[off : off+uint64(n)], true
}
