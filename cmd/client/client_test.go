package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
)

func TestMountOptions(t *testing.T) {
	o := defaultMountOptions()
	err := o.parse("rw,_netdev,networks=o2ib0(ib0,ib1),tcp0(127.0.0.5),port=1988,mount_timeout=5,"+
		"ctl_dir=/x/ctl,log_file=/x/log,log_level=debug,log_format=console,pid_file=/x/pid,pprof=127.0.0.1:6061,fuse_debug,x-systemd.automount", false)
	if err != nil {
		t.Fatal(err)
	}
	want := mountOptions{Networks: "o2ib0(ib0,ib1),tcp0(127.0.0.5)", Port: 1988, Timeout: 5 * time.Second,
		CtlDir: "/x/ctl", LogFile: "/x/log", LogLevel: "debug", LogFormat: "console", PIDFile: "/x/pid", Pprof: "127.0.0.1:6061", Debug: true}
	if o != want {
		t.Fatalf("parsed %+v\nwant   %+v", o, want)
	}
	// String is read back the same.
	back := defaultMountOptions()
	if err := back.parse(o.String(), false); err != nil || back != o {
		t.Errorf("round trip of %q: %+v, %v", o.String(), back, err)
	}
	for _, bad := range []string{"bogus", "ro", "port=x", "port=70000", "mount_timeout=0", "mount_timeout=soon",
		"networks=", "ctl_dir", "pprof="} {
		o := defaultMountOptions()
		if err := o.parse(bad, false); !errors.Is(err, errBadOption) {
			t.Errorf("-o %s: %v, want errBadOption", bad, err)
		}
	}
	o = defaultMountOptions()
	if err := o.parse("bogus,port=7", true); err != nil || o.Port != 7 {
		t.Errorf("sloppy: %v, port %d", err, o.Port)
	}
	if err := o.parse("ro", true); !errors.Is(err, errBadOption) {
		t.Errorf("sloppy ro: %v, want a refusal", err)
	}
}

func TestMountFlagsWin(t *testing.T) {
	c := newMount()
	c.SetArgs([]string{"-o", "port=1,networks=tcp0(127.0.0.9)", "--port", "2", "--foreground", "bad-spec", t.TempDir()})
	c.SetOut(&bytes.Buffer{})
	c.SetErr(&bytes.Buffer{})
	err := c.Execute()
	if err == nil || !strings.Contains(err.Error(), "bad-spec") {
		t.Fatalf("bad spec: %v", err)
	}
	o := defaultMountOptions()
	if err := o.parse("port=1", false); err != nil {
		t.Fatal(err)
	}
	f := defaultMountOptions()
	f.Port = 2
	_ = c.Flags().Set("port", "2")
	applyFlags(c, &o, f)
	if o.Port != 2 {
		t.Errorf("--port 2 over -o port=1: %d", o.Port)
	}
}

func TestHelperArgs(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	// -f: everything checked, nothing mounted.
	err := mountHelper(context.Background(), []string{"127.0.0.1@tcp:/stria", dir, "-fnv", "-o", "rw,port=7"}, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "mounting 127.0.0.1@tcp:/stria on "+dir) || !strings.Contains(out.String(), "port=7") {
		t.Errorf("verbose output: %q", out.String())
	}
	for name, args := range map[string][]string{
		"no dir":         {"127.0.0.1@tcp:/stria"},
		"bad spec":       {"127.0.0.1:/stria", dir, "-f"},
		"bad fsname":     {"127.0.0.1@tcp:/waytoolongname", dir, "-f"},
		"missing dir":    {"127.0.0.1@tcp:/stria", filepath.Join(dir, "nope"), "-f"},
		"unknown option": {"127.0.0.1@tcp:/stria", dir, "-f", "-o", "bogus"},
		"unknown flag":   {"127.0.0.1@tcp:/stria", dir, "-x"},
		"-o alone":       {"127.0.0.1@tcp:/stria", dir, "-o"},
	} {
		if err := mountHelper(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		}
	}
	if err := mountHelper(context.Background(), []string{"127.0.0.1@tcp:/stria", dir, "-sf", "-obogus"}, &out, &out); err != nil {
		t.Errorf("-s with an unknown option: %v", err)
	}
}

// TestMountUnreachableMGS: a foreground mount of an MGS nobody serves
// fails after the mount timeout, saying so.
func TestMountUnreachableMGS(t *testing.T) {
	leaktest.Check(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nobody listens there now
	opts := defaultMountOptions()
	opts.Networks, opts.Port, opts.Timeout = "tcp0(127.0.0.1)", port, time.Second
	opts.CtlDir, opts.LogLevel = t.TempDir(), "error"
	start := time.Now()
	err = serveMount(context.Background(), mountRequest{spec: "127.0.0.2@tcp:/stria", dir: t.TempDir(), opts: opts}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("mounted an MGS that does not exist")
	}
	if !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), "127.0.0.2@tcp") {
		t.Errorf("error does not say the MGS is unreachable: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v with a 1 s mount timeout", d)
	}
}

func TestUmountNotMounted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("umount(2) needs root; fusermount3's messages differ")
	}
	err := umount(context.Background(), t.TempDir(), t.TempDir(), false, time.Second)
	if err == nil || !strings.Contains(err.Error(), "not mounted") {
		t.Errorf("umount of a plain directory: %v", err)
	}
}

func TestNotifier(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Setenv(notifyEnv, strconv.Itoa(int(w.Fd())))
	n := newNotifier()
	if n.f == nil {
		t.Fatal("no notifier")
	}
	n.done(errors.New("line one\nline two"))
	w.Close()
	b := make([]byte, 100)
	k, _ := r.Read(b)
	if got := string(b[:k]); got != "err: line one line two\n" {
		t.Errorf("notified %q", got)
	}
}
