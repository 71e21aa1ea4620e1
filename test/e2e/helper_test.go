package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary run one system call and exit with its
// errno (0 for success, 255 for anything that is not an errno): the
// permission cases run it as another user.
const helperEnv = "STRIA_E2E_HELPER"

func runHelper(spec string) int {
	a := strings.Split(spec, "\x1f")
	var err error
	switch a[0] {
	case "open": // open PATH FLAGS
		flags, _ := strconv.Atoi(a[2])
		var fd int
		if fd, err = unix.Open(a[1], flags, 0o644); err == nil {
			unix.Close(fd)
		}
	case "read": // read PATH
		var f *os.File
		if f, err = os.Open(a[1]); err == nil {
			_, err = io.ReadAll(f)
			f.Close()
		}
	case "mkdir":
		err = unix.Mkdir(a[1], 0o755)
	case "rmdir":
		err = unix.Rmdir(a[1])
	case "unlink":
		err = unix.Unlink(a[1])
	case "rename":
		err = unix.Rename(a[1], a[2])
	case "chmod":
		err = unix.Chmod(a[1], 0o777)
	case "chown": // to nobody: only root may give a file away
		err = unix.Chown(a[1], 65534, 65534)
	case "utimes": // set explicit times: owner only
		err = unix.UtimesNano(a[1], []unix.Timespec{{Sec: 1}, {Sec: 1}})
	case "setxattr":
		err = unix.Setxattr(a[1], "user.x", []byte("v"), 0)
	case "eintr": // eintr DIR N: N mkdir/lstat/rmdir rounds under signals; exit 1 on EINTR
		return eintrLoop(a[1], a[2])
	case "access": // access PATH MODE
		mode, _ := strconv.Atoi(a[2])
		err = unix.Access(a[1], uint32(mode))
	default:
		return 255
	}
	var errno syscall.Errno
	if err == nil {
		return 0
	}
	if errors.As(err, &errno) {
		return int(errno)
	}
	return 255
}

// asUser runs one helper operation as uid:gid and returns its errno (0 for
// success). The test binary is copied where that user may run it.
func asUser(t testing.TB, bin string, uid, gid uint32, op string, args ...string) syscall.Errno {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(append([]string{op}, args...), "\x1f"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() != 255:
		return syscall.Errno(ee.ExitCode())
	default:
		t.Fatalf("helper %s %v as %d: %v %s", op, args, uid, err, out)
		return 0
	}
}

// helperBinary copies the test binary into dir (mode 0755), where other
// users can run it.
func helperBinary(t testing.TB, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "e2e-helper")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// eintrLoop runs mkdir, lstat and rmdir n times in dir while the parent
// signals this process (SIGUSR1, caught), and reports the calls that
// failed with EINTR: a file system call interrupted by a signal the
// program handles must complete (the kernel's file systems, and Lustre's
// client, never return EINTR for these).
func eintrLoop(dir, count string) int {
	n, _ := strconv.Atoi(count)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	fmt.Println("ready") // the parent signals only from now on
	go func() {
		for range ch {
		}
	}()
	eintr := 0
	for i := range n {
		p := filepath.Join(dir, strconv.Itoa(i))
		var st unix.Stat_t
		for _, err := range []error{unix.Mkdir(p, 0o755), unix.Lstat(p, &st), unix.Rmdir(p)} {
			if err == syscall.EINTR {
				eintr++
			} else if err != nil && err != syscall.EEXIST && err != syscall.ENOENT {
				fmt.Fprintln(os.Stderr, err)
				return 255
			}
		}
	}
	if eintr > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d calls failed with EINTR\n", eintr, 3*n)
		return 1
	}
	return 0
}
