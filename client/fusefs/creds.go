package fusefs

import (
	"bytes"
	"context"
	"os"
	"strconv"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/stria-fs/stria/client"
)

// opContext returns ctx (go-fuse's request context, cancelled when the
// kernel interrupts the request) carrying the caller's credentials for the
// client library: the fsuid, fsgid and thread id the kernel sent with the
// request, and, for callers other than root, the supplementary groups of
// that thread.
func (fsys *fileSystem) opContext(ctx context.Context) context.Context {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return ctx
	}
	c := client.Creds{UID: caller.Uid, GID: caller.Gid, PID: caller.Pid}
	if c.UID != 0 && c.PID != 0 && !fsys.opts.NoSuppGroups {
		c.Groups = threadGroups(c.PID)
	}
	return client.WithCreds(ctx, c)
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
