package ost

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// read serves OST_READ: Length bytes at Offset, read from the store into
// one pooled buffer, checksummed (crc32c) and PUT into the client's bulk
// buffer. A read past the object's end is short; holes read as zeros. The
// reply carries the bytes moved, their checksum, the object's size and the
// client's grant (on errors too).
func (t *target) read(ctx context.Context, r *ptlrpc.Request) error {
	var rep wire.IOReply
	err := t.doRead(ctx, r, &rep)
	r.ReplyBody(&rep)
	return err
}

func (t *target) doRead(ctx context.Context, r *ptlrpc.Request, rep *wire.IOReply) error {
	var req wire.IORequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	c, err := client(r)
	if err != nil {
		return err
	}
	rep.Grant = uint64(t.grants.Granted(c))
	if int(req.Length) > r.BulkLen() {
		return fmt.Errorf("%w: read of %d bytes into a buffer of %d", ErrBadIO, req.Length, r.BulkLen())
	}
	if ok, _ := t.srv.fail.check(FailReadBulk); ok {
		return fmt.Errorf("%w: %w", ErrFailPoint, syscall.EIO)
	}
	n := 0
	if req.Length > 0 {
		b := t.srv.pool.get(int(req.Length))
		defer t.srv.pool.put(b)
		n, err = t.store.ReadAt(ctx, req.FID, b.b, int64(req.Offset))
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		data := b.b[:n]
		rep.Checksum = crc32.Checksum(data, t.srv.crc)
		if ok, _ := t.srv.fail.check(FailChecksumSend); ok && n > 0 {
			data[n/2] ^= 0xff
		}
		t.srv.fail.pause(ctx)
		if n > 0 {
			if err := r.BulkPut(ctx, data); err != nil {
				return err
			}
		}
	}
	a, err := t.store.GetAttr(ctx, req.FID)
	if err != nil {
		return err
	}
	rep.Length, rep.Size = uint32(n), uint64(a.Size)
	t.stats.read.add(uint64(n))
	return nil
}

// write serves OST_WRITE: the client's data is fetched (bulk GET) into one
// pooled buffer, its crc32c checked (a mismatch is EBADMSG and nothing is
// written), the bytes charged to the client's grant or to the free space
// left, written and made durable before the reply. The reply carries the
// object's size and the client's grant after handing out up to GrantWant
// more (on errors too, the grant).
func (t *target) write(ctx context.Context, r *ptlrpc.Request) error {
	var rep wire.IOReply
	err := t.doWrite(ctx, r, &rep)
	r.ReplyBody(&rep)
	return err
}

func (t *target) doWrite(ctx context.Context, r *ptlrpc.Request, rep *wire.IOReply) error {
	var req wire.IORequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	c, err := client(r)
	if err != nil {
		return err
	}
	defer func() { rep.Grant = uint64(t.grants.Granted(c)) }()
	if int(req.Length) > r.BulkLen() {
		return fmt.Errorf("%w: write of %d bytes from a buffer of %d", ErrBadIO, req.Length, r.BulkLen())
	}
	if ok, _ := t.srv.fail.check(FailWriteBulk); ok {
		return fmt.Errorf("%w: %w", ErrFailPoint, syscall.EIO)
	}
	if ok, _ := t.srv.fail.check(FailENOSPC); ok {
		return fmt.Errorf("%w: %w", ErrFailPoint, syscall.ENOSPC)
	}
	var data []byte
	if req.Length > 0 {
		b := t.srv.pool.get(int(req.Length))
		defer t.srv.pool.put(b)
		t.srv.fail.pause(ctx)
		n, err := r.BulkGet(ctx, b.b)
		if err != nil {
			return err
		}
		if n != int(req.Length) {
			return fmt.Errorf("%w: %d of %d bytes", ErrShortBulk, n, req.Length)
		}
		data = b.b
		if ok, _ := t.srv.fail.check(FailChecksumReceive); ok {
			data[n/2] ^= 0xff
		}
	}
	if sum := crc32.Checksum(data, t.srv.crc); sum != req.Checksum {
		t.stats.checksumErrs.Add(1)
		t.log.Warn("BAD WRITE CHECKSUM: data changed in transit, nothing written", zap.String("client", c),
			zap.Stringer("nid", r.Peer().NID), zap.Stringer("fid", req.FID), zap.Uint64("offset", req.Offset),
			zap.Uint32("length", req.Length), zap.Uint32("client_sum", req.Checksum), zap.Uint32("server_sum", sum))
		return fmt.Errorf("%w: %v at %d: client %#08x, server %#08x", ErrChecksum, req.FID, req.Offset, req.Checksum, sum)
	}
	if err := t.consume(ctx, c, req.FID, int64(req.Offset), int64(req.Length)); err != nil {
		return err
	}
	if _, err := t.store.WriteAt(ctx, req.FID, data, int64(req.Offset)); err != nil {
		t.refreshAvail(ctx)
		return err
	}
	if req.Mtime != 0 {
		// The client's time of the write, not the OST's clock (Lustre's
		// o_mtime): written back later, the data must not make the file
		// look newer than the client said it was. Times only move forward.
		tm := time.Unix(0, req.Mtime)
		if err := t.store.SetAttr(ctx, req.FID, osd.Attr{Mtime: tm, Ctime: tm},
			osd.AttrMtime|osd.AttrCtime|osd.AttrTimesIfNewer); err != nil {
			return err
		}
	}
	if len(data) > 0 || req.Mtime != 0 {
		if err := t.store.SyncObject(ctx, req.FID); err != nil {
			return err
		}
	}
	a, err := t.store.GetAttr(ctx, req.FID)
	if err != nil {
		return err
	}
	t.refreshAvail(ctx)
	t.giveGrant(c, req.GrantWant)
	rep.Length, rep.Size = req.Length, uint64(a.Size)
	t.stats.write.add(uint64(req.Length))
	return nil
}

// consume charges a write of n bytes at off of fid to the client's grant
// or the space left. When that fails it refreshes the free space once
// (writes of other clients may have been counted twice), and then charges
// only the part of the range that has no blocks yet: an overwrite, or a
// write into preallocated space (fallocate), needs no new space — as
// Lustre's grant check skips mapped blocks. Only then is it ENOSPC.
func (t *target) consume(ctx context.Context, c string, fid wire.FID, off, n int64) error {
	if _, err := t.grants.Consume(c, n); err == nil {
		return nil
	}
	t.refreshAvail(ctx)
	_, err := t.grants.Consume(c, n)
	if err == nil {
		return nil
	}
	if need, uerr := t.store.Unallocated(ctx, fid, off, n); uerr == nil && need < n {
		if _, cerr := t.grants.Consume(c, need); cerr == nil {
			return nil
		}
	}
	return err
}
