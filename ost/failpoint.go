package ost

import (
	"context"
	"sync"
	"time"
)

// Fail points, numbered as Lustre's OBD_FAIL_OST_* (obd_support.h) and
// armed with `lctl set_param fail_loc=0x214` (fail_val=N alongside). Only
// the ones below exist; any other fail_loc is ignored by this server.
const (
	// FailWriteBulk (OBD_FAIL_OST_BRW_WRITE_BULK): a write fails with EIO
	// as if its bulk transfer had, before anything is written.
	FailWriteBulk uint32 = 0x20e
	// FailReadBulk (OBD_FAIL_OST_BRW_READ_BULK): a read fails with EIO.
	FailReadBulk uint32 = 0x20f
	// FailPauseBulk (OBD_FAIL_OST_BRW_PAUSE_BULK): a read or write waits
	// fail_val milliseconds (Lustre: seconds; 0: 1000 ms) before its bulk
	// transfer, or until the service stops.
	FailPauseBulk uint32 = 0x214
	// FailENOSPC (OBD_FAIL_OST_ENOSPC): writes and precreates fail with
	// ENOSPC.
	FailENOSPC uint32 = 0x215
	// FailChecksumReceive (OBD_FAIL_OST_CHECKSUM_RECEIVE): a write's data
	// is damaged on arrival, so its checksum fails (EBADMSG; nothing is
	// written).
	FailChecksumReceive uint32 = 0x21a
	// FailChecksumSend (OBD_FAIL_OST_CHECKSUM_SEND): a read's data is
	// damaged after its checksum was computed, so the client's check fails.
	FailChecksumSend uint32 = 0x21b
)

// Flags of a fail_loc value, as Lustre's.
const (
	// FailOnce (OBD_FAIL_ONCE) fires the fail point once; FailFailed
	// (OBD_FAILED) is then set and it stays quiet until fail_loc is set
	// again.
	FailOnce   uint32 = 0x80000000
	FailFailed uint32 = 0x40000000
	failIDMask uint32 = 0x0000ffff
)

// failPoints is one server's fail_loc/fail_val pair (Lustre's are global
// to the node; a Server's are its own, so in-process clusters do not
// interfere).
type failPoints struct {
	mu  sync.Mutex
	loc uint32
	val uint32
}

func (f *failPoints) set(loc, val uint32) {
	f.mu.Lock()
	f.loc, f.val = loc, val
	f.mu.Unlock()
}

func (f *failPoints) get() (loc, val uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loc, f.val
}

// check reports whether fail point id fires now, and fail_val.
func (f *failPoints) check(id uint32) (bool, uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loc&failIDMask != id || f.loc&FailFailed != 0 {
		return false, 0
	}
	if f.loc&FailOnce != 0 {
		f.loc |= FailFailed
	}
	return true, f.val
}

// pause waits fail_val milliseconds if FailPauseBulk fires, or until ctx
// ends.
func (f *failPoints) pause(ctx context.Context) {
	ok, ms := f.check(FailPauseBulk)
	if !ok {
		return
	}
	if ms == 0 {
		ms = 1000
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
