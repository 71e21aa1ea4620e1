package lod

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/layout/qos"
	"github.com/stria-fs/stria/wire"
)

var ctx = context.Background()

// fakeOST is an in-memory Target.
type fakeOST struct {
	idx   uint32
	ready chan struct{}

	mu       sync.Mutex
	avail    bool
	free     uint64
	next     uint32
	released []wire.FID
	handed   map[wire.FID]bool
	fail     error
}

func newFake(idx uint32) *fakeOST {
	r := make(chan struct{})
	close(r)
	return &fakeOST{idx: idx, ready: r, avail: true, free: 1 << 40, next: 1, handed: map[wire.FID]bool{}}
}

func (f *fakeOST) Index() uint32          { return f.idx }
func (f *fakeOST) Target() string         { return fmt.Sprintf("testfs-OST%04x", f.idx) }
func (f *fakeOST) Ready() <-chan struct{} { return f.ready }
func (f *fakeOST) QOS() qos.OST {
	f.mu.Lock()
	defer f.mu.Unlock()
	return qos.OST{Index: f.idx, Free: f.free, Total: 1 << 41, Avail: f.avail}
}
func (f *fakeOST) Alloc(context.Context) (wire.FID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return wire.FID{}, f.fail
	}
	if n := len(f.released); n > 0 {
		id := f.released[n-1]
		f.released = f.released[:n-1]
		f.handed[id] = true
		return id, nil
	}
	id := wire.IDIF(f.idx, uint64(f.next))
	f.next++
	f.handed[id] = true
	return id, nil
}
func (f *fakeOST) Release(objs ...wire.FID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range objs {
		if !f.handed[o] {
			panic("release of an object never handed out")
		}
		delete(f.handed, o)
		f.released = append(f.released, o)
	}
}
func (f *fakeOST) outstanding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.handed)
}

func newLOD(t *testing.T, n int) (*LOD, []*fakeOST) {
	d := New(Config{Name: "testfs-MDT0000-mdtlov", Logger: zaptest.NewLogger(t), Rand: rand.New(rand.NewPCG(1, 2)),
		ReadyTimeout: 5 * time.Second})
	var fakes []*fakeOST
	for i := range n {
		f := newFake(uint32(i))
		d.AddOST(f)
		fakes = append(fakes, f)
	}
	return d, fakes
}

func template(t *testing.T, opts ...layout.Options) *layout.Layout {
	t.Helper()
	l, err := layout.Template(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func opt(count int32, size uint32, offset int32) layout.Options {
	return layout.Options{Count: count, Size: size, Offset: offset}
}

func osts(c *layout.Component) []uint32 {
	var out []uint32
	for _, o := range c.Stripe.Objects {
		out = append(out, o.OSTIndex)
	}
	return out
}

func TestEffectiveOrder(t *testing.T) {
	root := template(t, opt(2, 1<<20, -1))
	parent := template(t, opt(3, 0, -1))
	explicit := template(t, opt(0, 2<<20, 1))
	cases := []struct {
		name                   string
		explicit, parent, root *layout.Layout
		count                  int32
		size                   uint32
		offset                 int32
	}{
		{"built-in", nil, nil, nil, 1, 4 << 20, -1},
		{"root", nil, nil, root, 2, 1 << 20, -1},
		{"parent over root", nil, parent, root, 3, 1 << 20, -1},
		{"explicit over parent over root", explicit, parent, root, 3, 2 << 20, 1},
		{"explicit over root", explicit, nil, root, 2, 2 << 20, 1},
		{"explicit alone", explicit, nil, nil, 1, 2 << 20, 1},
	}
	for _, c := range cases {
		l, err := Effective(c.explicit, c.parent, c.root)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s := l.Components[0].Stripe
		if s.Count != c.count || s.Size != c.size || s.Offset != c.offset {
			t.Errorf("%s: count %d size %d offset %d, want %d %d %d", c.name, s.Count, s.Size, s.Offset, c.count, c.size, c.offset)
		}
	}
	bad := &layout.Layout{}
	if _, err := Effective(bad, nil, nil); !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("empty template: %v", err)
	}
}

func TestNewLayoutPlainAndAll(t *testing.T) {
	d, fakes := newLOD(t, 4)
	l, err := d.NewLayout(ctx, template(t, opt(2, 0, -1)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &l.Components[0]
	if !c.IsInit() || len(c.Stripe.Objects) != 2 || c.Stripe.Count != 2 || l.Validate() != nil {
		t.Fatalf("layout %+v", l)
	}
	// Round robin: the next file starts where this one ended.
	l2, err := d.NewLayout(ctx, template(t, opt(2, 0, -1)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := osts(c), osts(&l2.Components[0])
	if a[0] == b[0] || a[1] == b[1] {
		t.Fatalf("round robin gave %v then %v", a, b)
	}
	all, err := d.NewLayout(ctx, template(t, opt(-1, 0, -1)), nil, nil)
	if err != nil || len(all.Components[0].Stripe.Objects) != 4 {
		t.Fatalf("count -1: %v %v", all, err)
	}
	off, err := d.NewLayout(ctx, template(t, opt(2, 0, 3)), nil, nil)
	if err != nil || fmt.Sprint(osts(&off.Components[0])) != "[3 0]" {
		t.Fatalf("offset 3: %v %v", off, err)
	}
	list, err := d.NewLayout(ctx, template(t, layout.Options{OSTs: []uint32{2, 1}, Offset: -1}), nil, nil)
	if err != nil || fmt.Sprint(osts(&list.Components[0])) != "[2 1]" {
		t.Fatalf("-o 2,1: %v %v", list, err)
	}
	// The unavailable OST is skipped.
	fakes[1].mu.Lock()
	fakes[1].avail = false
	fakes[1].mu.Unlock()
	if d.ActiveOSTs() != 3 || d.NumOSTs() != 4 {
		t.Fatalf("active %d of %d", d.ActiveOSTs(), d.NumOSTs())
	}
	for range 8 {
		l, err := d.NewLayout(ctx, template(t, opt(2, 0, -1)), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range osts(&l.Components[0]) {
			if o == 1 {
				t.Fatal("object on an unavailable OST")
			}
		}
	}
	// count -1 uses the available ones only; more than available settles.
	all, err = d.NewLayout(ctx, template(t, opt(-1, 0, -1)), nil, nil)
	if err != nil || len(all.Components[0].Stripe.Objects) != 3 {
		t.Fatalf("count -1 with one down: %v %v", all, err)
	}
	four, err := d.NewLayout(ctx, template(t, opt(4, 0, -1)), nil, nil)
	if err != nil || len(four.Components[0].Stripe.Objects) != 3 {
		t.Fatalf("count 4 with one down: %v %v", four, err)
	}
}

func TestTooManyStripesAllocatesNothing(t *testing.T) {
	d, fakes := newLOD(t, 2)
	for _, tmpl := range []*layout.Layout{
		template(t, opt(3, 0, -1)),
		template(t, opt(1, 0, 5)),
		template(t, layout.Options{OSTs: []uint32{0, 7}, Offset: -1}),
	} {
		_, err := d.NewLayout(ctx, tmpl, nil, nil)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("template %+v: %v, want EINVAL", tmpl.Components[0].Stripe, err)
		}
	}
	for _, f := range fakes {
		if f.outstanding() != 0 {
			t.Fatal("a refused layout took objects")
		}
	}
}

func TestPFLInstantiatesFirstComponentOnly(t *testing.T) {
	d, _ := newLOD(t, 4)
	tmpl := template(t,
		layout.Options{End: 1 << 20, Count: 1, Size: 1 << 20, Offset: -1},
		layout.Options{End: 64 << 20, Count: 2, Offset: -1},
		layout.Options{End: layout.EOF, Count: -1, Offset: -1})
	l, err := d.NewLayout(ctx, tmpl, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Components[0].IsInit() || len(l.Components[0].Stripe.Objects) != 1 ||
		l.Components[1].IsInit() || l.Components[2].IsInit() || l.Validate() != nil {
		t.Fatalf("PFL layout %+v", l)
	}
	// A layout intent later instantiates the rest.
	if err := d.Instantiate(ctx, l, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if len(l.Components[1].Stripe.Objects) != 2 || len(l.Components[2].Stripe.Objects) != 4 || l.Validate() != nil {
		t.Fatalf("after intent %+v", l)
	}
}

func TestFailingOSTIsAvoidedAndObjectsReturned(t *testing.T) {
	d, fakes := newLOD(t, 3)
	fakes[1].mu.Lock()
	fakes[1].fail = errors.New("no objects")
	fakes[1].mu.Unlock()
	for range 6 {
		l, err := d.NewLayout(ctx, template(t, opt(2, 0, -1)), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(osts(&l.Components[0])) != "[0 2]" && fmt.Sprint(osts(&l.Components[0])) != "[2 0]" {
			t.Fatalf("stripes on %v", osts(&l.Components[0]))
		}
	}
	// Every OST failing: ENOSPC, and nothing stays taken.
	before := fakes[0].outstanding() + fakes[2].outstanding()
	for _, f := range fakes {
		f.mu.Lock()
		f.fail = errors.New("no objects")
		f.mu.Unlock()
	}
	_, err := d.NewLayout(ctx, template(t, opt(2, 0, -1)), nil, nil)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("all failing: %v", err)
	}
	if fakes[0].outstanding()+fakes[2].outstanding() != before {
		t.Fatal("objects leaked by a failed allocation")
	}
	// Release gives a failed create's objects back.
	for _, f := range fakes {
		f.mu.Lock()
		f.fail = nil
		f.mu.Unlock()
	}
	l, err := d.NewLayout(ctx, template(t, opt(3, 0, -1)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Release(l, nil)
	if fakes[0].outstanding()+fakes[1].outstanding()+fakes[2].outstanding() != before {
		t.Fatal("release did not give the objects back")
	}
}

func TestWaitsForFirstOST(t *testing.T) {
	d := New(Config{Logger: zaptest.NewLogger(t), ReadyTimeout: 5 * time.Second})
	f := newFake(0)
	f.ready = make(chan struct{})
	f.avail = false
	d.AddOST(f)
	go func() {
		time.Sleep(20 * time.Millisecond)
		f.mu.Lock()
		f.avail = true
		f.mu.Unlock()
		close(f.ready)
	}()
	l, err := d.NewLayout(ctx, nil, nil, nil)
	if err != nil || len(l.Components[0].Stripe.Objects) != 1 {
		t.Fatalf("create while the first OST connects: %v %v", l, err)
	}
	// No OST at all: ENOSPC... after the count check: count 1 > 0 OSTs.
	empty := New(Config{Logger: zaptest.NewLogger(t)})
	if _, err := empty.NewLayout(ctx, nil, nil, nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("no OSTs: %v", err)
	}
}
