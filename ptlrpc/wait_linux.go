package ptlrpc

import (
	"encoding/binary"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// pollWaiter is an eventfd in the network poller (see wait.go).
type pollWaiter struct {
	f      *os.File // non-blocking: waits park in the network poller
	rc     syscall.RawConn
	fd     int
	readFn func(uintptr) bool // w.read
	// Owned by the goroutine in wait.
	park  func() bool
	first bool
}

func newPollWaiter() (*pollWaiter, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &pollWaiter{f: os.NewFile(uintptr(fd), "ptlrpc-wait"), fd: fd}
	if w.rc, err = w.f.SyscallConn(); err != nil {
		_ = w.f.Close()
		return nil, err
	}
	w.readFn = w.read
	return w, nil
}

// wait sleeps until wake. park is called once the waiter is ready to be
// woken (the poller set up for the eventfd): it publishes that the caller
// sleeps, so that its wakers call wake, and reports false when the caller
// need not sleep after all. wait reads the eventfd only once woken: a read
// before sleeping would find nothing, and a wake cannot come before park.
func (w *pollWaiter) wait(park func() bool) {
	w.park, w.first = park, true
	_ = w.rc.Read(w.readFn)
	w.park = nil
}

// read is wait's RawConn function: false sleeps until the eventfd turns
// readable.
func (w *pollWaiter) read(fd uintptr) bool {
	if w.first {
		w.first = false
		return !w.park()
	}
	var b [8]byte
	for {
		_, err := unix.Read(int(fd), b[:])
		if err != unix.EINTR {
			return err != unix.EAGAIN // EAGAIN: not woken yet
		}
	}
}

// wake ends the wait whose park published the sleep. It is called once
// per such wait, before the waiter can be put back or closed.
func (w *pollWaiter) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(w.fd, one[:])
}

func (w *pollWaiter) close() { _ = w.f.Close() }
