package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/obd"
)

// Runner says how a cluster's servers and clients run.
type Runner int

// Runners.
const (
	// Binaries runs every daemon and client as a separate process of the
	// built binaries, on loopback TCP, with real FUSE mounts.
	Binaries Runner = iota
	// InProcess runs every server and client in the test process, each on
	// an LNet node of its own over one lolnd fabric, with real FUSE mounts
	// (client/fusefs): fast, and the race detector sees the servers.
	InProcess
)

func (r Runner) String() string {
	if r == InProcess {
		return "InProcess"
	}
	return "Binaries"
}

// Options describe a cluster. Zero fields take the defaults named.
type Options struct {
	// FSName is the file system's name (default "stria").
	FSName string
	// OSSs is the number of OSS processes (default 2), each serving
	// OSTsPerOSS OSTs (default 2); OST indexes run 0..OSSs*OSTsPerOSS-1,
	// OSS i serving i*OSTsPerOSS onwards.
	OSSs, OSTsPerOSS int
	// Clients is the number of client mounts (default 1); NoClients mounts
	// none.
	Clients   int
	NoClients bool
	// OSTCapacity caps every OST's space in bytes (stria-oss format
	// --capacity); 0 leaves the backing file system's.
	OSTCapacity int64
	// StripeCount and StripeSize set the file system's default layout
	// (--param lov.stripecount / lov.stripesize on MDT0000); 0 leaves
	// Stria's default.
	StripeCount int
	StripeSize  int64
	// MountTimeout bounds each client mount (default 30 s).
	MountTimeout time.Duration
	// LogLevel is every process's --log-level (default "info").
	LogLevel string
	// Runner picks how the cluster runs (default Binaries).
	Runner Runner
}

func (o *Options) defaults() {
	if o.FSName == "" {
		o.FSName = "stria"
	}
	if o.OSSs == 0 {
		o.OSSs = 2
	}
	if o.OSTsPerOSS == 0 {
		o.OSTsPerOSS = 2
	}
	if o.Clients == 0 && !o.NoClients {
		o.Clients = 1
	}
	if o.NoClients {
		o.Clients = 0
	}
	if o.MountTimeout == 0 {
		o.MountTimeout = 30 * time.Second
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
}

// Cluster is a running file system. Its methods may be called from the
// test's goroutine or its subtests', one at a time.
type Cluster struct {
	t      testing.TB
	o      Options
	bin    string // directory of the binaries
	dir    string // targets, mount points, logs
	ctl    string // control sockets
	prefix string // "127.X.Y"
	port   int

	mu      sync.Mutex // serialises the methods that start and stop processes
	mgs     *proc      // Binaries: the processes
	mds     *proc
	oss     []*proc
	clients []*proc
	ip      *inproc // InProcess: the servers and clients
	closed  bool
}

// New formats and starts a cluster, mounts its clients, waits until every
// OST is usable from the MDS and from every client, and registers Close
// with t.Cleanup. It skips the test when this machine has no FUSE.
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("cluster: FUSE is not available on this machine (/dev/fuse: %v)", err)
	}
	o.defaults()
	c := &Cluster{t: t, o: o, bin: BinDir(t), dir: t.TempDir()}
	// Other users reach the mounts (permission tests run as nobody).
	for _, d := range []string{c.dir, filepath.Dir(c.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctl, err := os.MkdirTemp("", "stria-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	c.ctl = ctl
	hosts := []int{hostMGS, hostMDS}
	for i := range o.OSSs {
		hosts = append(hosts, hostOSS+i)
	}
	for i := range o.Clients {
		hosts = append(hosts, hostClient+i)
	}
	if c.prefix, c.port, err = pickNetwork(hosts); err != nil {
		os.RemoveAll(ctl)
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for i := range o.Clients {
		if err := os.MkdirAll(c.Mount(i), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if o.Runner == InProcess {
		c.ip = newInproc(c)
	} else if err := c.format(); err != nil {
		t.Fatal(err)
	} else {
		c.makeProcs()
	}
	if err := c.startServers(); err != nil {
		t.Fatal(err)
	}
	for i := range o.Clients {
		if err := c.startClient(i); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("cluster %s (%v): MGS %s, %d OSS x %d OST, %d client(s), logs in %s",
		o.FSName, o.Runner, c.MGSNID(), o.OSSs, o.OSTsPerOSS, o.Clients, filepath.Join(c.dir, "log"))
	return c
}

// Runner is how the cluster runs.
func (c *Cluster) Runner() Runner { return c.o.Runner }

// FSName is the file system's name.
func (c *Cluster) FSName() string { return c.o.FSName }

// OSTs is the number of OSTs.
func (c *Cluster) OSTs() int { return c.o.OSSs * c.o.OSTsPerOSS }

// Addr is the IP address of host number host on the cluster's subnet
// (HostUnused is one nobody answers on).
func (c *Cluster) Addr(host int) string { return ip(c.prefix, host) }

// Port is the TCP port every node of the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// NID is the NID of host number host: "127.X.Y.host@tcp" (Binaries) or
// "host@lo" (InProcess).
func (c *Cluster) NID(host int) string {
	if c.o.Runner == InProcess {
		return strconv.Itoa(host) + "@lo"
	}
	return c.Addr(host) + "@tcp"
}

// MGSNID is the MGS's NID, "127.X.Y.1@tcp".
func (c *Cluster) MGSNID() string { return c.NID(hostMGS) }

// Spec is the mount spec, "127.X.Y.1@tcp:/FSNAME".
func (c *Cluster) Spec() string { return c.MGSNID() + ":/" + c.o.FSName }

// CtlDir is the directory of the cluster's control sockets (STRIA_CTL_DIR
// for lctl and lfs).
func (c *Cluster) CtlDir() string { return c.ctl }

// Dir is the cluster's scratch directory (targets, mount points, logs).
func (c *Cluster) Dir() string { return c.dir }

// Mount is client i's mount point.
func (c *Cluster) Mount(i int) string { return filepath.Join(c.dir, "mnt"+strconv.Itoa(i)) }

// OSTDir is the directory of OST idx.
func (c *Cluster) OSTDir(idx int) string { return filepath.Join(c.dir, fmt.Sprintf("ost%d", idx)) }

// Env is the environment for the cluster's commands: STRIA_CTL_DIR set.
func (c *Cluster) Env() []string { return append(os.Environ(), "STRIA_CTL_DIR="+c.ctl) }

// Bin is the path of a built binary (MGS, MDS, OSS, Client, Lfs, Lctl,
// MountHelper).
func (c *Cluster) Bin(name string) string { return filepath.Join(c.bin, name) }

// Lfs runs lfs with the cluster's control directory.
func (c *Cluster) Lfs(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	return c.Run(ctx, Lfs, args...)
}

// Lctl runs lctl with the cluster's control directory.
func (c *Cluster) Lctl(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	return c.Run(ctx, Lctl, args...)
}

// Run runs one of the built binaries with the cluster's environment and
// returns its output and exit status (-1, with the reason in stderr, if it
// could not run or ctx ended it).
func (c *Cluster) Run(ctx context.Context, name string, args ...string) (stdout, stderr string, code int) {
	return RunBinary(ctx, c.Env(), c.Bin(name), args...)
}

// RunBinary runs bin with env and returns its output and exit status (-1,
// with the reason in stderr, if it could not run or ctx ended it; a
// context without a deadline gets one of two minutes).
func RunBinary(ctx context.Context, env []string, bin string, args ...string) (stdout, stderr string, code int) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case ctx.Err() != nil:
		return o.String(), e.String() + fmt.Sprintf("\n(%s %s: %v)", filepath.Base(bin), strings.Join(args, " "), ctx.Err()), -1
	case errors.As(err, &ee):
		return o.String(), e.String(), ee.ExitCode()
	default:
		return o.String(), e.String() + "\n(" + err.Error() + ")", -1
	}
}

// must runs a binary that has to succeed.
func (c *Cluster) must(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code := c.Run(ctx, name, args...)
	if code != 0 {
		return fmt.Errorf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), code, out, errOut)
	}
	return nil
}

// format formats the MGS, MDT0000 and every OST with the binaries.
func (c *Cluster) format() error {
	if err := c.must(MGS, "format", "--dir", filepath.Join(c.dir, "mgs")); err != nil {
		return err
	}
	mdt := []string{"format", "--dir", filepath.Join(c.dir, "mdt0"), "--fsname", c.o.FSName, "--index", "0",
		"--mgsnode", c.MGSNID(), "--servicenode", c.NID(hostMDS)}
	if c.o.StripeCount != 0 {
		mdt = append(mdt, "--param", "lov.stripecount="+strconv.Itoa(c.o.StripeCount))
	}
	if c.o.StripeSize != 0 {
		mdt = append(mdt, "--param", "lov.stripesize="+strconv.FormatInt(c.o.StripeSize, 10))
	}
	if err := c.must(MDS, mdt...); err != nil {
		return err
	}
	for i := range c.o.OSSs {
		for j := range c.o.OSTsPerOSS {
			idx := i*c.o.OSTsPerOSS + j
			args := []string{"format", "--dir", c.OSTDir(idx), "--fsname", c.o.FSName, "--index", strconv.Itoa(idx),
				"--mgsnode", c.MGSNID(), "--servicenode", c.NID(hostOSS + i)}
			if c.o.OSTCapacity > 0 {
				args = append(args, "--capacity", strconv.FormatInt(c.o.OSTCapacity, 10))
			}
			if err := c.must(OSS, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// serverArgs are the flags every server's start takes.
func (c *Cluster) serverArgs(host int) []string {
	return []string{"--networks", "tcp0(" + c.Addr(host) + ")", "--port", strconv.Itoa(c.port),
		"--ctl-dir", c.ctl, "--log-format", "console", "--log-level", c.o.LogLevel}
}

func (c *Cluster) logFile(name string) string { return filepath.Join(c.dir, "log", name+".log") }

func (c *Cluster) makeProcs() {
	c.mgs = &proc{name: "mgs", bin: c.Bin(MGS), log: c.logFile("mgs"),
		args: append([]string{"start", "--dir", filepath.Join(c.dir, "mgs")}, c.serverArgs(hostMGS)...)}
	c.mds = &proc{name: "mds", bin: c.Bin(MDS), log: c.logFile("mds"),
		args: append([]string{"start", "--dir", filepath.Join(c.dir, "mdt0")}, c.serverArgs(hostMDS)...)}
	for i := range c.o.OSSs {
		args := []string{"start"}
		for j := range c.o.OSTsPerOSS {
			args = append(args, "--dir", c.OSTDir(i*c.o.OSTsPerOSS+j))
		}
		name := "oss" + strconv.Itoa(i)
		c.oss = append(c.oss, &proc{name: name, bin: c.Bin(OSS), log: c.logFile(name),
			args: append(args, c.serverArgs(hostOSS+i)...)})
	}
	for i := range c.o.Clients {
		name := "client" + strconv.Itoa(i)
		c.clients = append(c.clients, &proc{name: name, bin: c.Bin(Client), log: c.logFile(name),
			args: []string{"mount", "--foreground", "--networks", "tcp0(" + c.Addr(hostClient+i) + ")",
				"--port", strconv.Itoa(c.port), "--ctl-dir", c.ctl, "--log-format", "console",
				"--log-level", c.o.LogLevel, "--timeout", c.o.MountTimeout.String(), c.Spec(), c.Mount(i)}})
	}
}

func (c *Cluster) sock(name string) string { return filepath.Join(c.ctl, name+".ctl") }

func (c *Cluster) ostName(idx int) string { return fmt.Sprintf("%s-OST%04x", c.o.FSName, idx) }

func (c *Cluster) ossSock(i int) string { return c.sock("oss-" + c.ostName(i*c.o.OSTsPerOSS)) }

func (c *Cluster) mdsSock() string { return c.sock("mds-" + c.o.FSName + "-MDT0000") }

// startServers starts the MGS, the MDS and every OSS, and waits until the
// MDS can allocate objects on every OST.
func (c *Cluster) startServers() error {
	if c.ip != nil {
		return c.ip.startServers()
	}
	ctx := context.Background()
	if err := c.mgs.start(c.Env()); err != nil {
		return err
	}
	if err := c.mgs.waitSocket(ctx, c.sock("mgs"), "dl"); err != nil {
		return err
	}
	if err := c.mds.start(c.Env()); err != nil {
		return err
	}
	for _, p := range c.oss {
		if err := p.start(c.Env()); err != nil {
			return err
		}
	}
	if err := c.mds.waitSocket(ctx, c.mdsSock(), "dl"); err != nil {
		return err
	}
	for i, p := range c.oss {
		if err := p.waitSocket(ctx, c.ossSock(i), "dl"); err != nil {
			return err
		}
	}
	return c.waitMDSOSTs(ctx)
}

// mdsAlive is nil while the MDS runs, else why not.
func (c *Cluster) mdsAlive() error {
	if c.ip != nil {
		return nil
	}
	select {
	case <-c.mds.done:
		return fmt.Errorf("mds exited (%v):\n%s", c.mds.waitErr, tail(c.mds.log, 20))
	default:
		return nil
	}
}

// waitMDSOSTs waits until the MDS has an active proxy with precreated
// objects for every OST.
func (c *Cluster) waitMDSOSTs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last string
	for {
		ok, why := c.mdsOSTsReady(ctx)
		if ok {
			return nil
		}
		last = why
		if err := c.mdsAlive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the MDS did not get every OST ready within %v: %s\n%s", readyTimeout, last,
				tail(c.logFile("mds"), 20))
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) mdsOSTsReady(ctx context.Context) (bool, string) {
	get := func(pattern string) (map[string]string, error) {
		cc, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		out, err := obd.Call(cc, c.mdsSock(), "get_param", pattern)
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, v := range obd.DecodeValues(out) {
			// osp.FS-OST0000-osc-MDT0000.active -> FS-OST0000
			dev := strings.TrimPrefix(v.Name, "osp.")
			dev = dev[:max(strings.Index(dev, "-osc-"), 0)]
			m[dev] = strings.TrimSpace(v.Value)
		}
		return m, nil
	}
	active, err := get("osp.*.active")
	if err != nil {
		return false, err.Error()
	}
	next, err := get("osp.*.prealloc_next_id")
	if err != nil {
		return false, err.Error()
	}
	lastID, err := get("osp.*.prealloc_last_id")
	if err != nil {
		return false, err.Error()
	}
	for idx := range c.OSTs() {
		name := c.ostName(idx)
		n, _ := strconv.ParseUint(next[name], 10, 64)
		l, _ := strconv.ParseUint(lastID[name], 10, 64)
		if active[name] != "1" || l == 0 || l < n {
			return false, fmt.Sprintf("%s: active %q, prealloc next %q last %q", name, active[name], next[name], lastID[name])
		}
	}
	return true, ""
}

// startClient mounts client i and waits until its df answers for every
// target.
func (c *Cluster) startClient(i int) error {
	if c.ip != nil {
		sock, err := c.ip.mount(i)
		if err != nil {
			return err
		}
		return c.clientReady(context.Background(), "client"+strconv.Itoa(i), sock, func() error { return nil })
	}
	p := c.clients[i]
	if err := p.start(c.Env()); err != nil {
		return err
	}
	sock := c.sock("client-" + strconv.Itoa(p.cmd.Process.Pid))
	ctx := context.Background()
	if err := p.waitSocket(ctx, sock, client.CmdMount); err != nil {
		return err
	}
	return c.clientReady(ctx, p.name, sock, func() error {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v):\n%s", p.name, p.waitErr, tail(p.log, 20))
		default:
			return nil
		}
	})
}

// clientReady waits until the client at sock answers df for every target.
func (c *Cluster) clientReady(ctx context.Context, name, sock string, alive func() error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	want := 1 + c.OSTs()
	var last string
	for {
		cc, ccancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := obd.Call(cc, sock, client.CmdDf)
		ccancel()
		if err == nil {
			var ts []client.Target
			if err := json.Unmarshal([]byte(out), &ts); err != nil {
				return fmt.Errorf("%s: df: %w", name, err)
			}
			active := 0
			for _, t := range ts {
				if t.Active {
					active++
				}
			}
			if active == want && len(ts) == want {
				return nil
			}
			last = fmt.Sprintf("%d of %d targets active", active, want)
		} else {
			last = err.Error()
		}
		if err := alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not every target usable within %v: %s\n%s", name, readyTimeout, last,
				tail(c.logFile(name), 20))
		case <-time.After(pollInterval):
		}
	}
}
