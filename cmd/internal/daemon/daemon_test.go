package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
)

func TestParseNodes(t *testing.T) {
	nodes, err := ParseNodes("mgsnode", []string{"10.0.0.1@tcp,10.1.0.1@o2ib:10.0.0.2@tcp", "10.0.0.3@tcp1"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"10.0.0.1@tcp", "10.1.0.1@o2ib"}, {"10.0.0.2@tcp"}, {"10.0.0.3@tcp1"}}
	if len(nodes) != len(want) {
		t.Fatalf("got %d nodes %v, want %v", len(nodes), nodes, want)
	}
	for i, n := range nodes {
		if len(n) != len(want[i]) {
			t.Fatalf("node %d: %v, want %v", i, n, want[i])
		}
		for j, nid := range n {
			if nid.String() != want[i][j] {
				t.Errorf("node %d nid %d: %s, want %s", i, j, nid, want[i][j])
			}
		}
	}
	for _, bad := range []string{"", "10.0.0.1", "10.0.0.1@tcp::10.0.0.2@tcp", "x@tcp", "10.0.0.1@tcp,"} {
		if _, err := ParseNodes("mgsnode", []string{bad}); !errors.Is(err, ErrBadNodes) {
			t.Errorf("ParseNodes(%q) = %v, want ErrBadNodes", bad, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "64K": 64 << 10, "64k": 64 << 10,
		"8M": 8 << 20, "8MiB": 8 << 20, "8MB": 8 << 20, "2G": 2 << 30, "1T": 1 << 40} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1", "1X", "1.5M", "99999999999T"} {
		if _, err := ParseSize(bad); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %v, want ErrBadSize", bad, err)
		}
	}
}

func TestParseIndex(t *testing.T) {
	for in, want := range map[string]uint32{"0": 0, "3": 3, "0x1f": 31} {
		if got, err := ParseIndex(in, 0xfffe); err != nil || got != want {
			t.Errorf("ParseIndex(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "x", "4096"} {
		if _, err := ParseIndex(bad, 4095); !errors.Is(err, ErrBadIndex) {
			t.Errorf("ParseIndex(%q) = %v, want ErrBadIndex", bad, err)
		}
	}
}

func TestTargetFlags(t *testing.T) {
	full := TargetFlags{Dir: "d", FSName: "fs", Index: "1", MGSNodes: []string{"10.0.0.1@tcp"}}
	if _, err := full.Parse(10); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*TargetFlags){
		"--dir":     func(f *TargetFlags) { f.Dir = "" },
		"--fsname":  func(f *TargetFlags) { f.FSName = "" },
		"--index":   func(f *TargetFlags) { f.Index = "" },
		"--mgsnode": func(f *TargetFlags) { f.MGSNodes = nil },
		"--param":   func(f *TargetFlags) { f.Params = []string{"novalue"} },
	} {
		tf := full
		f(&tf)
		if _, err := tf.Parse(10); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v does not name the flag", name, err)
		}
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log, flush, err := LogFlags{Level: "warn", Format: "console"}.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	flush()
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "shown") {
		t.Errorf("log = %q", s)
	}
	file := filepath.Join(t.TempDir(), "log")
	log, flush, err = LogFlags{Level: "info", Format: "json", File: file}.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("to file")
	flush()
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), `"msg":"to file"`) {
		t.Errorf("log file = %q", b)
	}
	for _, lf := range []LogFlags{{Level: "loud"}, {Level: "info", Format: "xml"}} {
		if _, _, err := lf.Logger(&buf); !errors.Is(err, ErrBadLog) {
			t.Errorf("%+v: %v, want ErrBadLog", lf, err)
		}
	}
}

type closer struct{ closed atomic.Bool }

func (c *closer) Close() error { c.closed.Store(true); return nil }

// TestRun runs a daemon's life with a stand-in server: the control socket
// appears once serving (with the LNet commands), the PID file names this
// process, and cancelling shuts everything down in order.
func TestRun(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	ctl, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(ctl) })
	pidFile := filepath.Join(dir, "pids", "x.pid")
	srv := &closer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, NetFlags{Networks: "tcp0(127.0.0.1)", Port: 0}, ServeFlags{CtlDir: ctl, PIDFile: pidFile},
			zaptest.NewLogger(t), func(ctx context.Context, p *Process) (io.Closer, string, error) {
				return srv, "test", nil
			})
	}()
	sock := filepath.Join(ctl, "test.ctl")
	deadline := time.Now().Add(20 * time.Second)
	var out string
	for {
		c, cc := context.WithTimeout(context.Background(), time.Second)
		out, err = obd.Call(c, sock, "list_nids")
		cc()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("control socket never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out, "127.0.0.1@tcp") {
		t.Errorf("list_nids = %q", out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file = %q, %v", b, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !srv.closed.Load() {
		t.Error("server not closed")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// TestRunStartFails: a server that cannot start leaves no socket and no PID
// file, and its error comes back.
func TestRunStartFails(t *testing.T) {
	leaktest.Check(t)
	ctl := t.TempDir()
	boom := errors.New("boom")
	err := Run(context.Background(), NetFlags{Networks: "tcp0(127.0.0.1)"}, ServeFlags{CtlDir: ctl,
		PIDFile: filepath.Join(ctl, "pid")}, zaptest.NewLogger(t),
		func(context.Context, *Process) (io.Closer, string, error) { return nil, "", boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want boom", err)
	}
	if ents, _ := os.ReadDir(ctl); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestStartLNetBadFlags(t *testing.T) {
	leaktest.Check(t)
	log := zaptest.NewLogger(t)
	if _, err := StartLNet(context.Background(), NetFlags{Networks: "tcp0(", Port: 0}, log); !errors.Is(err, lnet.ErrBadNetworks) {
		t.Errorf("bad networks: %v", err)
	}
	if _, err := StartLNet(context.Background(), NetFlags{Networks: "tcp0(127.0.0.1)", Port: 70000}, log); err == nil {
		t.Error("port 70000 accepted")
	}
	// o2ib without RDMA falls back to tcp.
	ln, err := StartLNet(context.Background(), NetFlags{Networks: "o2ib0(ib0),tcp0(127.0.0.1)", Port: 0}, log)
	if err != nil {
		t.Fatalf("o2ib0(ib0),tcp0: %v", err)
	}
	defer ln.Close()
	nids := ln.NIDs()
	if len(nids) == 0 || nids[0].String() != "127.0.0.1@tcp" {
		t.Errorf("NIDs = %v, want 127.0.0.1@tcp only", nids)
	}
}
