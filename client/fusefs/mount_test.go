package fusefs

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountLine returns dir's line of /proc/mounts, "" if it is not mounted.
func mountLine(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/mounts")
	must(t, "read /proc/mounts", err)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == dir {
			return l
		}
	}
	return ""
}

func TestProcMounts(t *testing.T) {
	tm := mount(t, nil, Options{FsName: "127.0.0.1@tcp:/stria", AllowOther: true})
	l := mountLine(t, tm.dir)
	for _, want := range []string{"127.0.0.1@tcp:/stria ", " fuse.stria ", "max_read=1048576", "allow_other"} {
		if !strings.Contains(l, want) {
			t.Errorf("/proc/mounts: %q lacks %q", l, want)
		}
	}
	if strings.Contains(l, "default_permissions") {
		t.Errorf("/proc/mounts: %q: default_permissions is off unless asked for", l)
	}
}

// TestRequestSizes checks that a 4 MiB write(2) reaches the backend as
// four 1 MiB WRITEs, in go-fuse's debug trace and in the backend, and that
// reads come in requests of up to 1 MiB, not the kernel's default 128 KiB.
func TestRequestSizes(t *testing.T) {
	tm := mount(t, nil, Options{Debug: true})
	if got := tm.srv.MaxWrite(); got != 1<<20 {
		t.Fatalf("negotiated MaxWrite %d, want 1 MiB (is /proc/sys/fs/fuse/max_pages_limit below 256?)", got)
	}
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i >> 10)
	}
	fd, err := unix.Open(tm.path("f"), unix.O_CREAT|unix.O_WRONLY, 0644)
	must(t, "create", err)
	n, err := unix.Write(fd, data)
	must(t, "close", unix.Close(fd))
	if n != len(data) || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	_, writes := tm.m.ioCounts()
	if len(writes) != 1 || writes[1<<20] != 4 {
		t.Errorf("backend WriteAt sizes %v, want 4 of 1 MiB", writes)
	}
	trace := regexp.MustCompile(`WRITE .*\[(\d+) \+(\d+)\)`)
	var traced []string
	for _, e := range tm.logs.All() {
		if m := trace.FindStringSubmatch(e.Message); m != nil {
			traced = append(traced, m[1]+"+"+m[2])
		}
	}
	if want := "0+1048576 1048576+1048576 2097152+1048576 3145728+1048576"; strings.Join(traced, " ") != want {
		t.Errorf("traced WRITEs %v, want %s", traced, want)
	}

	got, err := os.ReadFile(tm.path("f"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("read back: %v", err)
	}
	reads, _ := tm.m.ioCounts()
	biggest := 0
	for size := range reads {
		biggest = max(biggest, size)
	}
	if biggest != 1<<20 {
		t.Errorf("READ sizes %v: want 1 MiB requests (readahead window raised)", reads)
	}
}

func TestUnmountBusy(t *testing.T) {
	tm := mount(t, nil, Options{})
	fd, err := unix.Open(tm.path("f"), unix.O_CREAT|unix.O_RDWR, 0644)
	must(t, "create", err)
	if err := tm.srv.Unmount(); !errors.Is(err, ErrUnmount) {
		t.Errorf("Unmount with an open file: %v, want ErrUnmount", err)
	}
	must(t, "close", unix.Close(fd))
	must(t, "Unmount", tm.srv.Unmount())
	must(t, "Unmount again", tm.srv.Unmount())
	tm.srv.Wait()
	if l := mountLine(t, tm.dir); l != "" {
		t.Errorf("still mounted: %s", l)
	}
}

// TestServe checks the foreground loop: it ends when the mount is
// unmounted from outside, and unmounts when its context is cancelled.
func TestServe(t *testing.T) {
	tm := mount(t, nil, Options{})
	errc := make(chan error, 1)
	go func() { errc <- tm.srv.Serve(context.Background()) }()
	must(t, "umount", syscall.Unmount(tm.dir, 0))
	must(t, "Serve after an outside unmount", <-errc)

	tm = mount(t, nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- tm.srv.Serve(ctx) }()
	cancel()
	must(t, "Serve after cancel", <-errc)
	if l := mountLine(t, tm.dir); l != "" {
		t.Errorf("still mounted after Serve returned: %s", l)
	}
}

// TestServeBusy checks that a cancelled Serve detaches a busy mount and
// returns once its last file is closed.
func TestServeBusy(t *testing.T) {
	tm := mount(t, nil, Options{})
	fd, err := unix.Open(tm.path("f"), unix.O_CREAT|unix.O_RDWR, 0644)
	must(t, "create", err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tm.srv.Serve(ctx) }()
	cancel()
	for mountLine(t, tm.dir) != "" { // wait for the detach
		time.Sleep(time.Millisecond)
	}
	_, err = unix.Write(fd, []byte("still served"))
	must(t, "write after the detach", err)
	must(t, "close", unix.Close(fd))
	must(t, "Serve", <-errc)
	if opens, released := tm.m.openCounts(); opens != 1 || released != 1 {
		t.Errorf("%d opens, %d releases", opens, released)
	}
}

func TestMountErrors(t *testing.T) {
	needFUSE(t)
	checkLeaks(t)
	m := newMemFS()
	if _, err := Mount(context.Background(), t.TempDir()+"/missing", m, Options{}); !errors.Is(err, ErrMount) {
		t.Errorf("mount on a missing directory: %v, want ErrMount", err)
	}
	if _, err := Mount(context.Background(), t.TempDir(), m, Options{MaxWrite: 2 << 20}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("MaxWrite 2 MiB: %v, want ErrBadOptions", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Mount(ctx, t.TempDir(), m, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("mount with a cancelled context: %v", err)
	}
}
