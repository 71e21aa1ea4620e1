package osc

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Read reads len(p) bytes at off of object fid with one OST_READ: the OST
// puts the data straight into p (no copy here). n is short at the object's
// end (holes read as zeros); size is the object's size. The data's crc32c
// is checked against the OST's; a mismatch is read once more, then it is
// ErrChecksum (EIO). Read waits for a slot among the RPCs in flight.
func (o *OSC) Read(ctx context.Context, fid wire.FID, off uint64, p []byte) (n int, size uint64, err error) {
	if len(p) > wire.MaxIOSize {
		return 0, 0, fmt.Errorf("%w: read of %d bytes", ErrBadIO, len(p))
	}
	for try := 0; ; try++ {
		n, size, sum, err := o.read(ctx, fid, off, p)
		if err != nil {
			return 0, 0, err
		}
		if !o.checksums.Load() || crc32.Checksum(p[:n], o.crc) == sum {
			return n, size, nil
		}
		o.cksumErrs.Add(1)
		o.log.Warn("BAD READ CHECKSUM: data changed in transit", zap.Stringer("fid", fid),
			zap.Uint64("offset", off), zap.Int("length", n), zap.Uint32("server_sum", sum), zap.Int("try", try+1))
		if try == 1 {
			return 0, 0, fmt.Errorf("%w: %s: read %v at %d: %w", ErrChecksum, o.cfg.Target, fid, off, syscall.EIO)
		}
	}
}

func (o *OSC) read(ctx context.Context, fid wire.FID, off uint64, p []byte) (int, uint64, uint32, error) {
	if err := o.rpcs.acquire(ctx); err != nil {
		return 0, 0, 0, fmt.Errorf("osc: %s: %w", o.cfg.Target, err)
	}
	defer o.rpcs.release()
	start := time.Now()
	rep, err := o.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTRead, Portal: wire.OSTIOPortal,
		Encode: &wire.IORequest{FID: fid, Offset: off, Length: uint32(len(p))}, BulkIn: p})
	o.stats.RPC(wire.OSTRead, time.Since(start))
	defer rep.Release()
	if err != nil {
		return 0, 0, 0, o.fail("read", fid, off, err)
	}
	var r wire.IOReply
	if err := rep.Decode(&r); err != nil {
		return 0, 0, 0, fmt.Errorf("%w: %s: read: %w (%w)", ErrBadReply, o.cfg.Target, err, syscall.EIO)
	}
	if int(r.Length) > len(p) || (r.Length > 0 && rep.BulkLen() != int(r.Length)) {
		return 0, 0, 0, fmt.Errorf("%w: %s: read of %d bytes answered %d, %d moved (%w)", ErrBadReply,
			o.cfg.Target, len(p), r.Length, rep.BulkLen(), syscall.EIO)
	}
	o.noteGrant(r.Grant)
	o.stats.Read.Add(uint64(r.Length))
	return int(r.Length), r.Size, r.Checksum, nil
}

// Write writes p at off of object fid with one OST_WRITE carrying sum,
// p's crc32c (Castagnoli), which the caller computed (lov sums the data as
// it is cached, while it is hot), and mtime, the time the application
// wrote it (ns; 0: none), to which the OST moves the object's mtime
// forward; the OST fetches the data from p (no copy here), checks it
// against sum and makes it durable before it answers. A write the OST refuses for a bad checksum
// (EBADMSG) is sent again, up to three more times, then it is ErrChecksum
// (EIO). Every reply updates the grant; the request asks for enough to
// cover MaxDirty. size is the object's size after the write.
func (o *OSC) Write(ctx context.Context, fid wire.FID, off uint64, p []byte, sum uint32, mtime int64) (size uint64, err error) {
	if len(p) > wire.MaxIOSize {
		return 0, fmt.Errorf("%w: write of %d bytes", ErrBadIO, len(p))
	}
	for try := 1; ; try++ {
		size, err := o.write(ctx, fid, off, p, sum, mtime)
		if err == nil || !errors.Is(err, syscall.EBADMSG) {
			return size, err
		}
		o.log.Warn("write refused for a bad checksum, resending", zap.Stringer("fid", fid),
			zap.Uint64("offset", off), zap.Int("length", len(p)), zap.Int("try", try))
		if try == maxWriteTries {
			return 0, fmt.Errorf("%w: %s: write %v at %d: %w", ErrChecksum, o.cfg.Target, fid, off, syscall.EIO)
		}
	}
}

func (o *OSC) write(ctx context.Context, fid wire.FID, off uint64, p []byte, sum uint32, mtime int64) (uint64, error) {
	if err := o.rpcs.acquire(ctx); err != nil {
		return 0, fmt.Errorf("osc: %s: %w", o.cfg.Target, err)
	}
	defer o.rpcs.release()
	start := time.Now()
	rep, err := o.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTWrite, Portal: wire.OSTIOPortal, Encode: &wire.IORequest{FID: fid,
		Offset: off, Length: uint32(len(p)), Checksum: sum, GrantWant: o.grantWant(), Mtime: mtime}, BulkOut: p})
	o.stats.RPC(wire.OSTWrite, time.Since(start))
	defer rep.Release()
	var r wire.IOReply
	decoded := rep != nil && rep.Decode(&r) == nil
	if decoded {
		o.noteGrant(r.Grant) // error replies carry the grant too
	}
	if err != nil {
		return 0, o.fail("write", fid, off, err)
	}
	if !decoded || r.Length != uint32(len(p)) {
		return 0, fmt.Errorf("%w: %s: write of %d bytes answered %d (%w)", ErrBadReply, o.cfg.Target, len(p),
			r.Length, syscall.EIO)
	}
	o.stats.Write.Add(uint64(len(p)))
	o.attrs.wrote(fid, len(p), r.Size, mtime)
	return r.Size, nil
}

// fail wraps an RPC error with what was being done.
func (o *OSC) fail(op string, fid wire.FID, off uint64, err error) error {
	if errors.Is(err, ptlrpc.ErrClosed) {
		return fmt.Errorf("%w: %s: %s %v at %d: %w", ErrClosed, o.cfg.Target, op, fid, off, err)
	}
	return fmt.Errorf("osc: %s: %s %v at %d: %w", o.cfg.Target, op, fid, off, err)
}
