package fusefs

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/stria-fs/stria/client"
)

// opContext returns the context an operation runs under, carrying the
// caller's credentials for the client library (the fsuid, fsgid and thread
// id the kernel sent with the request and, for callers other than root,
// the supplementary groups of that thread), and the function that releases
// it when the operation returns.
//
// go-fuse cancels its request context when the kernel interrupts the
// request, which it does whenever the caller catches a signal. The
// operation's context is cancelled only if it is still running
// Options.InterruptGrace after that: an operation interrupted by an
// incidental signal completes, one stuck on an unreachable server gives
// up.
func (fsys *fileSystem) opContext(fctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(fctx))
	var stop func() bool
	if grace := fsys.opts.InterruptGrace; grace < 0 {
		stop = context.AfterFunc(fctx, cancel)
	} else {
		stop = context.AfterFunc(fctx, func() {
			t := time.AfterFunc(grace, cancel)
			context.AfterFunc(ctx, func() { t.Stop() })
		})
	}
	release := func() {
		stop()
		cancel()
	}
	caller, ok := fuse.FromContext(fctx)
	if !ok {
		return ctx, release
	}
	c := client.Creds{UID: caller.Uid, GID: caller.Gid, PID: caller.Pid}
	if c.UID != 0 && c.PID != 0 && !fsys.opts.NoSuppGroups {
		c.Groups = threadGroups(c.PID)
	}
	return client.WithCreds(ctx, c), release
}

// threadGroups returns the supplementary groups of thread tid, or nil when
// it cannot tell (the thread has exited, or lives in another PID
// namespace). The kernel does not send them with a FUSE request; Lustre's
// MDS looks them up with its identity upcall instead.
func threadGroups(tid uint32) []uint32 {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return nil
	}
	return parseGroups(b)
}

// parseGroups extracts the "Groups:" line of a /proc/PID/status file.
func parseGroups(status []byte) []uint32 {
	for len(status) > 0 {
		line, rest, _ := bytes.Cut(status, []byte{'\n'})
		status = rest
		v, ok := bytes.CutPrefix(line, []byte("Groups:"))
		if !ok {
			continue
		}
		var gs []uint32
		for _, f := range bytes.Fields(v) {
			g, err := strconv.ParseUint(string(f), 10, 32)
			if err != nil {
				return nil
			}
			gs = append(gs, uint32(g))
		}
		return gs
	}
	return nil
}
