//go:build linux || darwin || openbsd

package socklnd

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// setupInline prepares c for inline writes (see writer.go) when its socket
// allows them.
func (c *conn) setupInline() {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	c.raw = raw
	c.iwrite = func(fd uintptr) bool {
		c.in, c.ierr = unix.Writev(int(fd), c.ibufs)
		return true // one attempt: never wait for the socket
	}
}

// tryWrite makes one non-blocking writev of bufs and returns how much the
// socket took; a full socket is not an error.
func (c *conn) tryWrite(bufs [][]byte) (int, error) {
	c.ibufs = bufs
	if err := c.raw.Write(c.iwrite); err != nil {
		return 0, err // closed
	}
	n, err := c.in, c.ierr
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}
