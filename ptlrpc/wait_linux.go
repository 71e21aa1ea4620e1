package ptlrpc

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// pollWaiter is an eventfd in the network poller (see wait.go).
type pollWaiter struct {
	f  *os.File // non-blocking: reads park in the network poller
	fd int
}

func newPollWaiter() (*pollWaiter, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &pollWaiter{f: os.NewFile(uintptr(fd), "ptlrpc-wait"), fd: fd}, nil
}

// wait sleeps until wake was called (at once if it was already).
func (w *pollWaiter) wait() {
	var b [8]byte
	for {
		n, err := w.f.Read(b[:])
		if n == len(b) || err != nil {
			return
		}
	}
}

// wake ends the current or next wait. It is called once per wait, before
// the waiter can be put back or closed.
func (w *pollWaiter) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(w.fd, one[:])
}

func (w *pollWaiter) close() { _ = w.f.Close() }
