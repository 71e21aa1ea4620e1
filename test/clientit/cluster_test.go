package clientit

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/mdt"
	"github.com/stria-fs/stria/mdt/osp"
	"github.com/stria-fs/stria/mgs"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost"
	"github.com/stria-fs/stria/ptlrpc"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 30 * time.Second

const fsname = "testfs"

var testAT = ptlrpc.ATConfig{Min: 300 * time.Millisecond, Max: 3 * time.Second, History: 10 * time.Second,
	EarlyMargin: 150 * time.Millisecond, Extra: 300 * time.Millisecond}

func tctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

// cluster is an MGS, one MDS and OSSs, each on an LNet node of its own
// over one lolnd fabric, formatted in t.TempDir().
type cluster struct {
	t        testing.TB
	fabric   *lolnd.Fabric
	dir      string
	mgsNodes [][]lnet.NID
	mgs      *mgs.Server
	mds      *mdt.Server
	osts     int
	nextNode int
	mu       sync.Mutex
	oss      []*ostNode
	lockTO   time.Duration // clusterOpts.lockTimeout, for the OSSs
}

// ostNode is one OSS: its node and its OST's directory, to restart it.
type ostNode struct {
	ln     *lnet.LNet
	dir    string
	srv    *ost.Server
	lockTO time.Duration
}

type clusterOpts struct {
	osts      int   // OSTs, one OSS each
	capacity  int64 // cap of every OST in bytes (0: none)
	mdtParams []string
	// lockTimeout, if set, is the MDT's and the OSTs' lock callback and
	// cancel timeout.
	lockTimeout time.Duration
}

func newCluster(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{t: t, fabric: lolnd.NewFabric(), dir: t.TempDir(), nextNode: 1, lockTO: o.lockTimeout}
	mgsLN := c.node()
	mdir := filepath.Join(c.dir, "mgs")
	if err := mgs.Format(mdir, mgs.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	var err error
	c.mgs, err = mgs.Start(tctx(t), mgs.Config{Dir: mdir, LNet: mgsLN, AT: testAT,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("mgs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.mgs.Close() })
	c.mgsNodes = [][]lnet.NID{mgsLN.NIDs()}

	mdsLN := c.node()
	ddir := filepath.Join(c.dir, "mdt0")
	if _, err := mdt.Format(ddir, mdt.FormatOptions{FSName: fsname, MGSNodes: c.mgsNodes, Params: o.mdtParams,
		NoSync: true}); err != nil {
		t.Fatal(err)
	}
	c.mds, err = mdt.Start(tctx(t), mdt.Config{Dir: ddir, FSName: fsname, LNet: mdsLN, AT: testAT, NoSync: true,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("mds"), ReadyTimeout: 10 * time.Second,
		RegisterRetry: 20 * time.Millisecond, ExportCheckInterval: 50 * time.Millisecond,
		LockASTTimeout: o.lockTimeout, LockCancelTimeout: o.lockTimeout,
		OSP: func(c *osp.Config) {
			c.StatfsInterval, c.RetryInterval = 100*time.Millisecond, 20*time.Millisecond
			c.Import = func(ic *ptlrpc.ImportConfig) {
				ic.ReconnectBackoff, ic.PingInterval, ic.AT = 20*time.Millisecond, -1, testAT
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.mds.Close() })
	for range o.osts {
		c.addOST(o.capacity)
	}
	if err := c.mds.WaitOSTs(tctx(t), o.osts); err != nil {
		t.Fatal(err)
	}
	return c
}

// node starts the next LNet node, lo(N).
func (c *cluster) node() *lnet.LNet {
	c.t.Helper()
	c.mu.Lock()
	n := c.nextNode
	c.nextNode++
	c.mu.Unlock()
	nets, err := lnet.ParseNetworks("lo(" + strconv.Itoa(n) + ")")
	if err != nil {
		c.t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(c.fabric)},
		Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// addOST formats and starts one more OST on an OSS of its own; it
// registers with the MGS.
func (c *cluster) addOST(capacity int64) *ost.Server {
	c.t.Helper()
	c.mu.Lock()
	idx := c.osts
	c.osts++
	c.mu.Unlock()
	ln := c.node()
	dir := filepath.Join(c.dir, "ost"+strconv.Itoa(idx))
	if _, err := ost.Format(dir, ost.FormatOptions{FSName: fsname, Index: uint32(idx), MGSNodes: c.mgsNodes,
		Capacity: capacity}); err != nil {
		c.t.Fatal(err)
	}
	n := &ostNode{ln: ln, dir: dir, lockTO: c.lockTO}
	n.start(c.t)
	c.t.Cleanup(func() { _ = n.srv.Close() })
	c.mu.Lock()
	c.oss = append(c.oss, n)
	c.mu.Unlock()
	return n.srv
}

// start starts (or restarts) the OSS.
func (n *ostNode) start(t testing.TB) {
	t.Helper()
	srv, err := ost.Start(tctx(t), ost.Config{Dirs: []string{n.dir}, FSName: fsname, LNet: n.ln, AT: testAT,
		RegisterRetry: 20 * time.Millisecond, StatFSInterval: 100 * time.Millisecond,
		ASTTimeout: n.lockTO, CancelTimeout: n.lockTO,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)).Named("oss")})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
}

// clientConfig is a mount's configuration on a new node.
func (c *cluster) clientConfig() client.Config {
	return client.Config{MGSNodes: c.mgsNodes, FSName: fsname, LNet: c.node(), Node: obd.NewNode(zap.NewNop()),
		MountPoint: "/mnt/" + fsname, Logger: zaptest.NewLogger(c.t, zaptest.Level(zap.WarnLevel)).Named("client"),
		AT: testAT, ReconnectBackoff: 20 * time.Millisecond, ConfigPoll: 50 * time.Millisecond, OSTWait: 5 * time.Second}
}

// mount mounts the file system from a new client node; it is unmounted
// when the test ends.
func (c *cluster) mount(t testing.TB) *client.FS {
	t.Helper()
	return c.mountWith(t, c.clientConfig())
}

func (c *cluster) mountWith(t testing.TB, cfg client.Config) *client.FS {
	t.Helper()
	fs, err := client.Mount(tctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fs.Close(context.Background()); err != nil {
			t.Errorf("unmount: %v", err)
		}
		_ = cfg.Node.Close()
	})
	return fs
}
