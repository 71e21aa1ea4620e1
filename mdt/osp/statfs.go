package osp

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// statfser polls the OST's statfs every StatfsInterval.
func (d *Device) statfser() {
	defer d.wg.Done()
	for {
		d.pollStatfs()
		if !d.sleep(d.cfg.StatfsInterval, nil) {
			return
		}
	}
}

func (d *Device) pollStatfs() {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.RPCTimeout)
	defer cancel()
	rep, err := d.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTStatfs, Encode: &wire.Empty{}})
	var st wire.StatFS
	if err == nil {
		err = rep.Decode(&st)
	}
	rep.Release()
	if d.ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	was := d.statfsErr
	if err == nil {
		d.statfs, d.statfsAt, d.statfsErr = st, time.Now(), nil
	} else {
		d.statfsErr = err
	}
	d.mu.Unlock()
	switch {
	case err != nil && was == nil:
		d.log.Warn("statfs failed: OST inactive for new objects", zap.Error(err))
	case err == nil && was != nil:
		d.log.Info("statfs answered: OST active", zap.Uint64("bavail", st.BAvail), zap.Uint32("state", uint32(st.State)))
	}
	if err == nil {
		d.readyOnce.Do(func() { close(d.ready) })
	}
}
