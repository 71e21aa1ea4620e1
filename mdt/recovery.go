package mdt

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// recovery is the window after a start in which clients reconnect and
// replay their opens (Lustre's recovery, as far as Stria has it: every
// change is committed before its reply, so opens are all there is to
// replay). The orphans of the previous run are swept when it ends: those
// a replayed open holds stay until their last close.
type recovery struct {
	done chan struct{} // closed when the window ends
	once sync.Once

	start    time.Time     // when the window opened; set before the service starts
	end      atomic.Int64  // when it closed (ns since the epoch); 0 while open
	replayed atomic.Uint64 // opens restored
}

// status formats the window as Lustre's recovery_status.
func (r *recovery) status(window time.Duration) string {
	var b strings.Builder
	end := r.end.Load()
	if end == 0 {
		left := max(window-time.Since(r.start), 0)
		fmt.Fprintf(&b, "status: RECOVERING\nrecovery_start: %d\ntime_remaining: %d\n", r.start.Unix(),
			int64(left.Round(time.Second)/time.Second))
	} else {
		fmt.Fprintf(&b, "status: COMPLETE\nrecovery_start: %d\nrecovery_duration: %d\n", r.start.Unix(),
			int64(time.Unix(0, end).Sub(r.start).Round(time.Second)/time.Second))
	}
	fmt.Fprintf(&b, "replayed_requests: %d\n", r.replayed.Load())
	return b.String()
}

// startRecovery starts the goroutine that ends the recovery window (open
// since Start made rec.done) after Config.RecoveryWindow, at once if that
// is negative, and then sweeps the orphans of the previous run.
func (s *Server) startRecovery() {
	if s.cfg.RecoveryWindow < 0 {
		s.EndRecovery()
	} else {
		s.log.Info("recovery window open", zap.Duration("window", s.cfg.RecoveryWindow))
	}
	s.wg.Add(1)
	go s.recoveryLoop()
}

// recoveryLoop waits for the end of the window (its time, EndRecovery or
// Close), then ends the OST proxies' recovery (their unclaimed precreated
// objects are destroyed) and sweeps the orphans nobody reopened.
func (s *Server) recoveryLoop() {
	defer s.wg.Done()
	t := time.NewTimer(max(time.Until(s.rec.start.Add(s.cfg.RecoveryWindow)), 0))
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return
	case <-s.rec.done:
	case <-t.C:
		s.EndRecovery()
	}
	s.endOSPRecovery()
	// Their objects go to the destroy queue in the sweep's transaction.
	if _, _, err := s.mdd.SweepOrphans(s.ctx); err != nil && s.ctx.Err() == nil {
		s.log.Error("orphan sweep after recovery failed; the orphans stay until the next start", zap.Error(err))
	}
}

// EndRecovery ends the recovery window now (Lustre's abort_recovery):
// opens not replayed by then are lost, and the orphans nobody reopened
// are destroyed.
func (s *Server) EndRecovery() {
	s.rec.once.Do(func() {
		s.rec.end.Store(time.Now().UnixNano())
		close(s.rec.done)
		s.log.Info("recovery window closed")
	})
}

// Recovering reports whether the recovery window is open.
func (s *Server) Recovering() bool {
	select {
	case <-s.rec.done:
		return false
	default:
		return true
	}
}

// replayOpen serves a replayed REINT_OPEN of a FID with the handle the
// previous instance gave (Lustre's mdc_replay_open): the file is opened
// again — an unlinked one too, which the orphan sweep then spares — and
// the handle registered on the client's new export, so that its close
// finds it. The open was allowed when it was made: it is not checked
// against the caller's credentials again (a chmod since must not take
// an open file away), which is why replays are taken only while the
// window is open.
func (s *Server) replayOpen(ctx context.Context, req *ptlrpc.Request, st *exportState, r *wire.OpenRequest) error {
	if !s.Recovering() {
		return fmt.Errorf("%w: replayed open of %v (handle %#x) after recovery", ErrBadHandle, r.FID, r.Handle)
	}
	flags := int(r.Flags) &^ (os.O_CREATE | os.O_EXCL | os.O_TRUNC)
	oh := openHandle{fid: r.FID, write: flags&(os.O_WRONLY|os.O_RDWR) != 0}
	f, restored := st.lookup(r.Handle)
	if restored && f != r.FID {
		return fmt.Errorf("%w: replayed handle %#x of %v is one of %v", ErrBadHandle, r.Handle, r.FID, f)
	}
	var a mdd.Attr
	var err error
	if restored {
		// A replay sent again (its reply was lost): already restored.
		a, err = s.mdd.GetAttr(ctx, r.FID)
	} else {
		a, err = s.mdd.Open(ctx, mdd.Root(), r.FID, flags)
		if err == nil && !st.add(r.Handle, oh) {
			if _, _, cerr := s.mdd.Close(context.WithoutCancel(ctx), r.FID); cerr != nil {
				s.log.Error("closing after a failed replay", zap.Stringer("fid", r.FID), zap.Error(cerr))
			}
			err = fmt.Errorf("%w: the client was evicted", ErrNoExport)
		}
	}
	if err != nil {
		return err
	}
	blob, err := s.layoutOf(ctx, a)
	if err != nil {
		blob = nil // the handle is restored; the client has its layout
	}
	if !restored {
		s.rec.replayed.Add(1)
	}
	req.ReplyBody(&wire.InodeReply{FID: a.FID, Attr: wireAttr(a), Layout: blob, Handle: r.Handle})
	return nil
}
