package fusefs

import (
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// permSuite runs as other users (asUser) on a fresh allow_other mount per
// case: the kernel checks nothing (no default_permissions), so every
// EACCES and EPERM here comes from the backend, which judged the
// credentials the adapter passed, or from the adapter's own checks where
// no backend call exists (access(2), opendir).
var permSuite = map[string]func(t *testing.T, tm *testMount){
	"ModeBits": testPermModeBits,
	"Search":   testPermSearch,
	"Owner":    testPermOwner,
	"Creds":    testPermCreds,
	"Groups":   testPermGroups,
}

func TestPermissions(t *testing.T) {
	names := make([]string, 0, len(permSuite))
	for n := range permSuite {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			permSuite[n](t, mount(t, nil, Options{AllowOther: true}))
		})
	}
}

// TestPermissionsNoSuppGroups checks Options.NoSuppGroups: no groups are
// sent.
func TestPermissionsNoSuppGroups(t *testing.T) {
	tm := mount(t, nil, Options{AllowOther: true, NoSuppGroups: true})
	must(t, "chmod", unix.Chmod(tm.dir, 0777))
	asUser(t, user, group, []uint32{5000}, func() {
		expectOK(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	})
	if c := tm.m.lastCreds("mkdir"); c.UID != user || c.Groups != nil {
		t.Errorf("creds %+v, want no groups", c)
	}
}

// expectOK is must for code running in asUser's goroutine, where t.Fatal
// may not be called.
func expectOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

const (
	user  = 1000
	group = 1000
)

func testPermModeBits(t *testing.T, tm *testMount) {
	secret, public := tm.path("secret"), tm.path("public")
	must(t, "write", os.WriteFile(secret, []byte("s"), 0600))
	must(t, "write", os.WriteFile(public, []byte("p"), 0644))
	must(t, "chmod", unix.Chmod(tm.dir, 0755))
	asUser(t, user, group, nil, func() {
		_, err := unix.Open(secret, unix.O_RDONLY, 0)
		wantErrno(t, "open 0600 root file", err, syscall.EACCES)
		_, err = unix.Open(public, unix.O_WRONLY, 0)
		wantErrno(t, "open 0644 root file for writing", err, syscall.EACCES)
		fd, err := unix.Open(public, unix.O_RDONLY, 0)
		expectOK(t, "open 0644 root file for reading", err)
		unix.Close(fd)
		wantErrno(t, "access R_OK 0600", unix.Access(secret, unix.R_OK), syscall.EACCES)
		expectOK(t, "access R_OK 0644", unix.Access(public, unix.R_OK))
		wantErrno(t, "create in a 0755 root directory", func() error {
			fd, err := unix.Open(tm.path("mine"), unix.O_CREAT|unix.O_WRONLY, 0644)
			unix.Close(fd)
			return err
		}(), syscall.EACCES)
		wantErrno(t, "unlink in a 0755 root directory", unix.Unlink(public), syscall.EACCES)
		wantErrno(t, "truncate 0644 root file", unix.Truncate(public, 0), syscall.EACCES)
		wantErrno(t, "setxattr on 0644 root file", unix.Setxattr(public, "user.x", []byte("1"), 0), syscall.EACCES)
	})
}

func testPermSearch(t *testing.T, tm *testMount) {
	must(t, "mkdir", unix.Mkdir(tm.path("private"), 0700))
	must(t, "write", os.WriteFile(tm.path("private", "f"), nil, 0644))
	must(t, "mkdir", unix.Mkdir(tm.path("listonly"), 0744))
	asUser(t, user, group, nil, func() {
		var st unix.Stat_t
		wantErrno(t, "stat below a 0700 directory", unix.Stat(tm.path("private", "f"), &st), syscall.EACCES)
		_, err := unix.Open(tm.path("private"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		wantErrno(t, "opendir 0700", err, syscall.EACCES)
		wantErrno(t, "chdir 0700", unix.Chdir(tm.path("private")), syscall.EACCES)
		_, err = os.ReadDir(tm.path("listonly"))
		expectOK(t, "list a 0744 directory", err)
	})
}

func testPermOwner(t *testing.T, tm *testMount) {
	must(t, "chmod", unix.Chmod(tm.dir, 0777))
	must(t, "write", os.WriteFile(tm.path("roots"), nil, 0644))
	must(t, "chmod", unix.Chmod(tm.path("roots"), 0666)) // (past the umask)
	asUser(t, user, group, nil, func() {
		expectOK(t, "create", os.WriteFile(tm.path("mine"), []byte("x"), 0600))
		expectOK(t, "chmod own file", unix.Chmod(tm.path("mine"), 0640))
		wantErrno(t, "chmod root's file", unix.Chmod(tm.path("roots"), 0600), syscall.EPERM)
		wantErrno(t, "chown to root", unix.Chown(tm.path("mine"), 0, -1), syscall.EPERM)
		ts := []unix.Timespec{{Sec: 5}, {Sec: 6}}
		wantErrno(t, "set times of root's file", unix.UtimesNanoAt(unix.AT_FDCWD, tm.path("roots"), ts, 0), syscall.EPERM)
		now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
		expectOK(t, "touch root's writable file", unix.UtimesNanoAt(unix.AT_FDCWD, tm.path("roots"), now, 0))
		wantErrno(t, "mknod a device", unix.Mknod(tm.path("null"), unix.S_IFCHR|0600, int(unix.Mkdev(1, 3))), syscall.EPERM)
		expectOK(t, "mkfifo", unix.Mkfifo(tm.path("fifo"), 0600))
	})
	var st unix.Stat_t
	must(t, "stat", unix.Stat(tm.path("mine"), &st))
	if st.Uid != user || st.Gid != group || st.Mode != unix.S_IFREG|0640 {
		t.Errorf("user's file: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode)
	}
}

// testPermCreds checks what reaches the backend: the thread's fsuid,
// fsgid, thread id and supplementary groups.
func testPermCreds(t *testing.T, tm *testMount) {
	must(t, "chmod", unix.Chmod(tm.dir, 0777))
	var tid int
	asUser(t, 1234, 5678, []uint32{42, 43}, func() {
		tid = unix.Gettid()
		expectOK(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	})
	c := tm.m.lastCreds("mkdir")
	if c.UID != 1234 || c.GID != 5678 || c.PID != uint32(tid) || !slices.Equal(c.Groups, []uint32{42, 43}) {
		t.Errorf("creds %+v, want 1234:5678 groups [42 43] from thread %d", c, tid)
	}
}

// testPermGroups checks that a supplementary group grants its access.
func testPermGroups(t *testing.T, tm *testMount) {
	must(t, "mkdir", unix.Mkdir(tm.path("proj"), 0755))
	must(t, "chmod", unix.Chmod(tm.path("proj"), 0770)) // (past the umask)
	must(t, "chown", unix.Chown(tm.path("proj"), 0, 5000))
	asUser(t, user, group, []uint32{5000}, func() {
		expectOK(t, "create as a member of the project group", os.WriteFile(tm.path("proj", "f"), nil, 0644))
	})
	asUser(t, user, group, nil, func() {
		wantErrno(t, "create as a non-member", os.WriteFile(tm.path("proj", "g"), nil, 0644), syscall.EACCES)
	})
}

// TestDefaultPermissions checks Options.DefaultPermissions: the kernel
// refuses by the mode bits before anything reaches the backend.
func TestDefaultPermissions(t *testing.T) {
	tm := mount(t, nil, Options{AllowOther: true, DefaultPermissions: true})
	if l := mountLine(t, tm.dir); !strings.Contains(l, "default_permissions") {
		t.Errorf("/proc/mounts: %q lacks default_permissions", l)
	}
	must(t, "write", os.WriteFile(tm.path("secret"), nil, 0600))
	opens := tm.m.callCount("open")
	asUser(t, user, group, nil, func() {
		_, err := unix.Open(tm.path("secret"), unix.O_RDONLY, 0)
		wantErrno(t, "open 0600 root file", err, syscall.EACCES)
	})
	if n := tm.m.callCount("open") - opens; n != 0 {
		t.Errorf("%d opens reached the backend", n)
	}
}
