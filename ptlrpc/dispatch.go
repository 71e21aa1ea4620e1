package ptlrpc

import (
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/wire"
)

// serve routes one request on a handler thread and answers it.
func (s *Service) serve(r *Request) {
	if int(r.rlen) > len(r.data) {
		s.stats.tooBig.Add(1)
		s.log.Warn("ptlrpc: request larger than the service takes", zap.Stringer("nid", r.peer.NID),
			zap.Uint64("xid", r.msg.XID), zap.Uint32("length", r.rlen), zap.Int("max", s.cfg.MaxRequestSize))
		s.replyErr(r, wire.Errno(syscall.EMSGSIZE))
		return
	}
	body, err := r.msg.Decode(r.data)
	if err != nil {
		s.stats.malformed.Add(1)
		s.log.Warn("ptlrpc: malformed request dropped", zap.Stringer("nid", r.peer.NID), zap.Error(err))
		return
	}
	r.body = body
	opc := r.msg.Opcode
	if opc.IsConnect() {
		s.connect(r)
		return
	}
	if r.msg.Handle == 0 {
		s.serveUnconnected(r)
		return
	}
	exp := s.lookupExport(r.msg.Handle)
	if exp == nil {
		s.replyErr(r, wire.Errno(syscall.ENOTCONN))
		return
	}
	r.exp, r.tgt = exp, exp.target
	exp.lastSeen.Store(r.arrival.UnixNano())
	replay := r.msg.Flags&wire.FlagReplay != 0
	exp.mu.Lock()
	exp.requests++
	stale := r.msg.ConnCnt < exp.connCnt
	exp.pruneLocked(r.msg.LastXID, r.tgt.cfg.MaxSavedReplies)
	exp.mu.Unlock()
	if stale {
		// Lustre drops these: the client resends under its new connection.
		s.stats.stale.Add(1)
		s.log.Debug("ptlrpc: request from an older connection dropped", zap.Uint64("xid", r.msg.XID),
			zap.String("client", exp.uuid))
		return
	}
	switch {
	case opc.IsDisconnect():
		r.tgt.disconnect(exp)
		s.reply(r, wire.MsgReply, 0, false)
		return
	case opc == wire.OBDPing:
		s.reply(r, wire.MsgReply, 0, false)
		return
	}
	h := r.tgt.cfg.Handlers[opc]
	if h == nil {
		s.replyErr(r, wire.Errno(syscall.EOPNOTSUPP))
		return
	}
	if !replay && !s.claim(r) {
		return
	}
	r.started = time.Now()
	err = h(s.ctx, r)
	s.reply(r, wire.MsgReply, r.tgt.cfg.Errnos.ToErrno(err), !replay)
}

// claim checks a request against the export's saved replies and requests in
// progress: a request already executed is answered from its saved reply, a
// copy of one still running is dropped (the running one's reply answers
// it). Otherwise it marks the request in progress and reports true.
func (s *Service) claim(r *Request) bool {
	exp, xid := r.exp, r.msg.XID
	exp.mu.Lock()
	if saved := exp.saved[xid]; saved != nil {
		b := s.replyPool.get(len(saved.b))
		copy(b.b, saved.b)
		exp.mu.Unlock()
		var m wire.Msg
		if err := m.DecodeHeader(b.b); err != nil {
			b.unref()
			s.log.Error("ptlrpc: saved reply does not decode", zap.Error(err))
			return false
		}
		m.Flags |= wire.FlagReconstructed
		m.LastCommitted = r.tgt.lastCommitted()
		m.Encode(b.b)
		s.stats.reconstructed.Add(1)
		s.stats.replies.Add(1)
		s.log.Debug("ptlrpc: reply reconstructed", zap.Uint64("xid", xid), zap.String("client", exp.uuid))
		s.deactivate(r)
		s.send(r.peer, xid, b, earlyArea)
		return false
	}
	_, running := exp.inflight[xid]
	old := xid <= exp.lastXID
	if !running && !old {
		exp.inflight[xid] = struct{}{}
	}
	exp.mu.Unlock()
	if running || old {
		s.stats.duplicates.Add(1)
		s.log.Debug("ptlrpc: duplicate request dropped", zap.Uint64("xid", xid), zap.String("client", exp.uuid),
			zap.Bool("running", running))
		return false
	}
	return true
}

func (s *Service) serveUnconnected(r *Request) {
	opc := r.msg.Opcode
	if opc == wire.OBDPing {
		s.reply(r, wire.MsgReply, 0, false)
		return
	}
	h := s.cfg.Handlers[opc]
	if h == nil {
		errno := wire.Errno(syscall.EOPNOTSUPP)
		s.mu.RLock()
		for _, t := range s.targets {
			if t.cfg.Handlers[opc] != nil {
				errno = wire.Errno(syscall.ENOTCONN)
				break
			}
		}
		s.mu.RUnlock()
		s.replyErr(r, errno)
		return
	}
	r.started = time.Now()
	err := h(s.ctx, r)
	s.reply(r, wire.MsgReply, wire.ErrnoOf(err), false)
}

func (s *Service) lookupExport(handle uint64) *Export {
	s.mu.RLock()
	targets := s.targets
	s.mu.RUnlock()
	for _, t := range targets {
		if e := t.export(handle); e != nil {
			return e
		}
	}
	return nil
}

func (s *Service) target(name string) *Target {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, t := range s.targets {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

// connect serves MDS_CONNECT, OST_CONNECT and MGS_CONNECT.
func (s *Service) connect(r *Request) {
	var cr wire.ConnectRequest
	if err := r.DecodeBody(&cr); err != nil {
		s.stats.malformed.Add(1)
		s.log.Warn("ptlrpc: malformed connect", zap.Stringer("nid", r.peer.NID), zap.Error(err))
		s.replyErr(r, wire.ErrnoOf(err))
		return
	}
	t := s.target(cr.Target)
	if t == nil {
		s.log.Info("ptlrpc: connect to an unknown target", zap.String("target", cr.Target),
			zap.String("client", cr.ClientUUID), zap.Stringer("nid", r.peer.NID))
		s.reply(r, wire.MsgReply, wire.Errno(syscall.ENODEV), false)
		return
	}
	r.tgt = t
	exp, reused, err := t.connect(s.ctx, &cr, r.peer)
	if err != nil {
		s.reply(r, wire.MsgReply, t.cfg.Errnos.ToErrno(err), false)
		return
	}
	r.exp = exp
	exp.mu.Lock()
	connCnt := exp.connCnt
	exp.mu.Unlock()
	flags := cr.Flags
	if t.cfg.Flags != 0 {
		flags &= t.cfg.Flags
	}
	r.ReplyBody(&wire.ConnectReply{
		Handle: exp.handle, ConnCnt: connCnt, Flags: flags, Incarnation: t.cfg.Incarnation,
		LastCommitted: t.lastCommitted(), TargetUUID: t.Name() + "_UUID",
	})
	if reused {
		r.opFlags |= wire.ConnectReconnect
	}
	if t.cfg.LastCommitted != nil {
		r.opFlags |= wire.ConnectReplayable
	}
	s.log.Debug("ptlrpc: client connected", zap.String("target", t.Name()), zap.String("client", cr.ClientUUID),
		zap.Stringer("nid", r.peer.NID), zap.Bool("reconnect", reused), zap.Uint32("conn_cnt", connCnt))
	s.reply(r, wire.MsgReply, 0, false)
}

// replyErr answers a request that was not processed with an ERR reply.
func (s *Service) replyErr(r *Request, errno wire.Errno) {
	s.stats.errors.Add(1)
	if r.rep != nil {
		r.rep.b = r.rep.b[:wire.MsgSize]
	}
	s.reply(r, wire.MsgErr, errno, false)
}

// reply seals and sends the reply to r; save keeps it on the export for
// reconstruction.
func (s *Service) reply(r *Request, typ wire.MsgType, status wire.Errno, save bool) {
	now := time.Now()
	s.deactivate(r)
	b := r.replyBuf()
	r.rep = nil
	m := wire.Msg{
		Type: typ, Opcode: r.msg.Opcode, Status: status, OpFlags: r.opFlags, XID: r.msg.XID,
		Transno: r.transno, Handle: r.msg.Handle, ConnCnt: r.msg.ConnCnt,
		ServiceTime: durMS(now.Sub(r.arrival)), BulkLen: r.bulkMoved,
	}
	if r.tgt != nil {
		m.LastCommitted = r.tgt.lastCommitted()
	}
	if r.exp != nil {
		m.Handle = r.exp.handle
		r.exp.mu.Lock()
		m.ConnCnt = r.exp.connCnt
		r.exp.mu.Unlock()
	}
	if typ == wire.MsgReply {
		s.at.add(now.Sub(r.arrival), now)
	}
	if !r.started.IsZero() {
		s.learn(r.msg.Opcode, now.Sub(r.started))
	}
	m.Timeout = durMS(s.at.get(now))
	m.Seal(b.b)
	if save && r.exp != nil {
		exp := r.exp
		exp.mu.Lock()
		delete(exp.inflight, r.msg.XID)
		if !exp.gone.Load() {
			exp.saveLocked(r.msg.XID, b, r.tgt.cfg.MaxSavedReplies)
		}
		exp.mu.Unlock()
	}
	s.stats.replies.Add(1)
	s.send(r.peer, r.msg.XID, b, earlyArea)
}
