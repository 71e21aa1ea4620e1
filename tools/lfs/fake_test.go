package lfs

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// fakeFS is an in-memory mounted file system for in-process tests. It
// plays the client and, for the layout xattr of a new file, the MDT: it
// computes the effective layout, refuses more stripes than OSTs with
// EINVAL, and allocates objects for the initial components.
type fakeFS struct {
	mu      sync.Mutex
	mount   string
	nodes   map[string]*fakeNode
	mods    []string // modifying calls, in order
	numOSTs int
	nextObj map[uint32]uint64 // per OST
	failSet map[string]error  // setxattr failures by path
	control func(cmd string, args []string) (string, error)
	calls   []string // control commands received
}

type fakeNode struct {
	dir    bool
	xattrs map[string][]byte
}

var _ FS = (*fakeFS)(nil)

func newFakeFS(t *testing.T) *fakeFS {
	t.Helper()
	f := &fakeFS{
		mount:   "/mnt/fs",
		nodes:   map[string]*fakeNode{},
		numOSTs: 8,
		nextObj: map[uint32]uint64{},
		failSet: map[string]error{},
	}
	f.nodes["/mnt/fs"] = &fakeNode{dir: true, xattrs: map[string][]byte{}}
	return f
}

// run executes an lfs command line against f and returns stdout, stderr
// and the exit status main would return.
func run(t *testing.T, f FS, args ...string) (string, string, int) {
	t.Helper()
	cmd := New(Config{FS: f, Location: time.UTC, Timeout: 10 * time.Second})
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	code := Report(&errb, err)
	return out.String(), errb.String(), code
}

// node looks a path up ("dir/" is "dir", as in a real file system).
func (f *fakeFS) node(p string) (*fakeNode, error) {
	n := f.nodes[path.Clean(p)]
	if n == nil {
		return nil, syscall.ENOENT
	}
	return n, nil
}

// mkdir adds a directory (and its parents).
func (f *fakeFS) mkdir(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for q := p; q != "/" && f.nodes[q] == nil; q = path.Dir(q) {
		f.nodes[q] = &fakeNode{dir: true, xattrs: map[string][]byte{}}
	}
}

// file adds a regular file with layout l (nil: none) and FID fid.
func (f *fakeFS) file(t *testing.T, p string, l *layout.Layout, fid wire.FID) {
	t.Helper()
	f.mkdir(path.Dir(p))
	n := &fakeNode{xattrs: map[string][]byte{XattrFID: []byte(fid.String())}}
	if l != nil {
		b, err := layout.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		n.xattrs[XattrLOV] = b
	}
	f.mu.Lock()
	f.nodes[p] = n
	f.mu.Unlock()
}

// setDefault gives directory p the template l.
func (f *fakeFS) setDefault(t *testing.T, p string, l *layout.Layout) {
	t.Helper()
	b, err := layout.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	f.mkdir(p)
	f.mu.Lock()
	f.nodes[p].xattrs[XattrLOV] = b
	f.mu.Unlock()
}

// layoutOf decodes the layout xattr of p.
func (f *fakeFS) layoutOf(t *testing.T, p string) *layout.Layout {
	t.Helper()
	b, err := f.Getxattr(p, XattrLOV)
	if err != nil {
		t.Fatalf("layout of %s: %v", p, err)
	}
	l, err := layout.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fakeFS) modifications() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mods)
}

func (f *fakeFS) Getxattr(p, name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.node(p)
	if err != nil {
		return nil, err
	}
	v, ok := n.xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return slices.Clone(v), nil
}

func (f *fakeFS) Setxattr(p, name string, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mods = append(f.mods, "setxattr "+p+" "+name)
	n, err := f.node(p)
	if err != nil {
		return err
	}
	if err := f.failSet[p]; err != nil {
		return err
	}
	if name != XattrLOV {
		return syscall.EPERM
	}
	tmpl, err := layout.Decode(value)
	if err != nil {
		return syscall.EINVAL
	}
	if n.dir {
		if tmpl.ValidateTemplate() != nil {
			return syscall.EINVAL
		}
		n.xattrs[name] = slices.Clone(value)
		return nil
	}
	if _, ok := n.xattrs[name]; ok {
		return syscall.EEXIST // a layout is set once
	}
	l, err := f.instantiate(p, tmpl)
	if err != nil {
		return err
	}
	b, err := layout.Encode(l)
	if err != nil {
		return syscall.EINVAL
	}
	n.xattrs[name] = b
	return nil
}

// instantiate plays the MDT: the template's options over the parent's and
// the root's defaults, checked against the OSTs, objects for the initial
// components (round-robin from the offset, IDIF FIDs).
func (f *fakeFS) instantiate(p string, tmpl *layout.Layout) (*layout.Layout, error) {
	var opts []layout.Options
	for i, c := range tmpl.Components {
		o := layout.Options{
			Count: c.Stripe.Count, Size: c.Stripe.Size, Offset: c.Stripe.Offset, Pool: c.Stripe.Pool,
			Pattern: c.Stripe.Pattern, OSTs: c.Stripe.OSTs, Flags: c.Flags & layout.CreateFlags,
			Mirror: c.MirrorID != 0 && (i == 0 || tmpl.Components[i-1].MirrorID != c.MirrorID),
		}
		if tmpl.Composite {
			o.End = c.Extent.End
		}
		opts = append(opts, o)
	}
	def := func(q string) *layout.Layout {
		if n := f.nodes[q]; n != nil {
			if b, ok := n.xattrs[XattrLOV]; ok {
				if l, err := layout.Decode(b); err == nil {
					return l
				}
			}
		}
		return nil
	}
	l, err := layout.Effective(def(path.Dir(p)), def(f.mount), opts)
	if err != nil {
		return nil, syscall.EINVAL
	}
	if err := l.CheckOSTCount(f.numOSTs); err != nil {
		return nil, syscall.EINVAL
	}
	for _, i := range l.InitialComponents() {
		c := &l.Components[i]
		if c.IsDoM() {
			if err := l.Instantiate(i, nil); err != nil {
				return nil, syscall.EINVAL
			}
			continue
		}
		count := int(c.Stripe.Count)
		if count < 0 {
			count = f.numOSTs
		}
		start := 0
		if c.Stripe.Offset >= 0 {
			start = int(c.Stripe.Offset)
		}
		objs := make([]layout.Object, count)
		for k := range objs {
			ost := uint32((start + k) % f.numOSTs)
			if len(c.Stripe.OSTs) > 0 {
				ost = c.Stripe.OSTs[k]
			}
			f.nextObj[ost]++
			objs[k] = layout.Object{OSTIndex: ost, FID: wire.IDIF(ost, f.nextObj[ost])}
		}
		if err := l.Instantiate(i, objs); err != nil {
			return nil, syscall.EINVAL
		}
	}
	return l, nil
}

func (f *fakeFS) Removexattr(p, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mods = append(f.mods, "removexattr "+p+" "+name)
	n, err := f.node(p)
	if err != nil {
		return err
	}
	if _, ok := n.xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(n.xattrs, name)
	return nil
}

func (f *fakeFS) Mknod(p string, perm uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mods = append(f.mods, fmt.Sprintf("mknod %s %#o", p, perm))
	if f.nodes[p] != nil {
		return syscall.EEXIST
	}
	parent := f.nodes[path.Dir(p)]
	if parent == nil {
		return syscall.ENOENT
	}
	if !parent.dir {
		return syscall.ENOTDIR
	}
	f.nodes[p] = &fakeNode{xattrs: map[string][]byte{
		XattrFID: []byte(wire.FID{Seq: 0x200000401, Oid: uint32(len(f.nodes))}.String()),
	}}
	return nil
}

func (f *fakeFS) Unlink(p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mods = append(f.mods, "unlink "+p)
	n, err := f.node(p)
	if err != nil {
		return err
	}
	if n.dir {
		return syscall.EISDIR
	}
	delete(f.nodes, p)
	return nil
}

func (f *fakeFS) Stat(p string) (fs.FileMode, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.node(p)
	if err != nil {
		return 0, err
	}
	if n.dir {
		return fs.ModeDir | 0o755, nil
	}
	return 0o644, nil
}

func (f *fakeFS) ReadDir(p string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p = path.Clean(p)
	if _, err := f.node(p); err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for q, n := range f.nodes {
		if q != p && path.Dir(q) == p {
			out = append(out, fakeDirEntry{name: path.Base(q), dir: n.dir})
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

type fakeDirEntry struct {
	name string
	dir  bool
}

func (d fakeDirEntry) Name() string { return d.name }
func (d fakeDirEntry) IsDir() bool  { return d.dir }
func (d fakeDirEntry) Type() fs.FileMode {
	if d.dir {
		return fs.ModeDir
	}
	return 0
}
func (d fakeDirEntry) Info() (fs.FileInfo, error) { return nil, syscall.ENOSYS }

func (f *fakeFS) Control(ctx context.Context, p string) (Client, error) {
	if !within(p, f.mount) {
		return nil, &notStriaError{p}
	}
	return &fakeClient{f: f, mount: f.mount}, nil
}

func (f *fakeFS) Clients(ctx context.Context) ([]Client, error) {
	return []Client{&fakeClient{f: f, mount: f.mount}}, nil
}

type fakeClient struct {
	f     *fakeFS
	mount string
}

func (c *fakeClient) Mount() string { return c.mount }

func (c *fakeClient) Call(ctx context.Context, cmd string, args ...string) (string, error) {
	c.f.mu.Lock()
	c.f.calls = append(c.f.calls, strings.Join(append([]string{cmd}, args...), " "))
	h := c.f.control
	c.f.mu.Unlock()
	if h == nil {
		return "", fmt.Errorf("%w: no such command %q", ErrControl, cmd)
	}
	return h(cmd, args)
}
