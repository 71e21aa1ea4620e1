package ptlrpc

import (
	"context"
	"errors"
	"fmt"
	"github.com/stria-fs/stria/internal/leaktest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/netfault"
	"github.com/stria-fs/stria/wire"
)

// faultyPair is pairSetup with the server's LND wrapped in netfault.
func faultyPair(t *testing.T, handlers map[wire.Opcode]Handler) (*server, *Import, *netfault.Rules) {
	t.Helper()
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	sln := node(t, f, "lo(1)", netfault.Wrap(lolnd.New(f), rules))
	cln := node(t, f, "lo(2)")
	srv := startServer(t, sln, handlers)
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)})
	connect(t, imp)
	return srv, imp, rules
}

// A reply lost on the way back: the client times out, reconnects and resends;
// the server answers from the saved reply and runs the handler only once.
func TestReplyReconstruction(t *testing.T) {
	leaktest.Check(t)
	var executed atomic.Int64
	var srv *server
	srv, imp, rules := faultyPair(t, map[wire.Opcode]Handler{wire.OSTSetattr: func(ctx context.Context, r *Request) error {
		n := executed.Add(1)
		r.SetTransno(srv.transnos.Next())
		r.Reply(fmt.Appendf(nil, "executed %d", n))
		return nil
	}})
	rules.Add(netfault.Rule{Match: netfault.Match{Src: lnet.LoNID(1), Types: []lnet.MsgType{lnet.MsgPut},
		Portals: []uint32{testReplyPortal}}, Action: netfault.Drop, Count: 1})

	rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.OSTSetattr, Body: []byte("chmod")})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Release()
	if string(rep.Body) != "executed 1" || rep.Msg.Flags&wire.FlagReconstructed == 0 || rep.Msg.Transno != 1 {
		t.Fatalf("reply %q %+v", rep.Body, rep.Msg)
	}
	if n := executed.Load(); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
	if st := rules.Stats(); st.Dropped != 1 {
		t.Fatalf("netfault %+v", st)
	}
	if st := srv.svc.Stats(); st.Reconstructed < 1 {
		t.Fatalf("service %+v", st)
	}
	if info := imp.Info(); info.Timeouts < 1 || info.Resends < 1 || info.Connects < 2 {
		t.Fatalf("import %+v", info)
	}
	// Later requests carry a LastXID past the reconstructed one, so the
	// server forgets its saved replies.
	for i := 0; i < 3; i++ {
		rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.OSTSetattr})
		if err != nil {
			t.Fatal(err)
		}
		rep.Release()
	}
	if exps := srv.tgt.Exports(); len(exps) != 1 || exps[0].SavedReplies != 1 {
		t.Fatalf("saved replies not pruned: %+v", exps)
	}
}

// A request lost on the way out: resent with the RESENT flag and run once.
func TestResendLostRequest(t *testing.T) {
	leaktest.Check(t)
	var executed atomic.Int64
	var resent atomic.Bool
	_, imp, rules := faultyPair(t, map[wire.Opcode]Handler{opEcho: func(ctx context.Context, r *Request) error {
		executed.Add(1)
		resent.Store(r.IsResent())
		return echo(ctx, r)
	}})
	rules.Add(netfault.Rule{Match: netfault.Match{Dst: lnet.LoNID(1), Types: []lnet.MsgType{lnet.MsgPut},
		Portals: []uint32{testReqPortal}}, Action: netfault.Drop, Count: 1})
	rep, err := imp.Call(testCtx(t), &Req{Opcode: opEcho, Body: []byte("again")})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	if executed.Load() != 1 || !resent.Load() {
		t.Fatalf("executed %d, resent %v", executed.Load(), resent.Load())
	}
}

type replayRecord struct {
	replay  bool
	transno uint64
	body    string
}

// After a server restart (a new incarnation), the client replays what the
// server had answered but not committed, in transno order, before anything
// new.
func TestReplayAfterRestart(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	var before *server
	before = startServer(t, sln, map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
		r.SetTransno(before.transnos.Next())
		return nil
	}})
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) {
		c.ConnectOpcode = wire.MDSConnect
	})
	connect(t, imp)
	ctx := testCtx(t)
	for _, body := range []string{"mkdir a", "mkdir b", "create c"} {
		rep, err := imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte(body), Replayable: true})
		if err != nil {
			t.Fatal(err)
		}
		rep.Release()
	}
	// Not replayable: not kept even though it got a transno.
	rep, err := imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte("setattr")})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	if q := imp.Info().ReplayQueue; q != 3 {
		t.Fatalf("replay queue %d", q)
	}

	// The server restarts: the old service goes away, a new incarnation of
	// the target comes up with nothing committed.
	before.svc.Close()
	var mu sync.Mutex
	var seen []replayRecord
	var after *server
	after = startServer(t, sln, map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
		mu.Lock()
		seen = append(seen, replayRecord{r.IsReplay(), r.Msg().Transno, string(r.Body())})
		mu.Unlock()
		if r.IsReplay() {
			r.SetTransno(r.Msg().Transno)
		} else {
			r.SetTransno(after.transnos.Next())
		}
		return nil
	}}, func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = before.tgt.Incarnation() + 1 })
	after.transnos.Start(0)
	after.transnos.last.Store(4) // the new instance continues after the replayed transnos

	rep, err = imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte("rename"), Replayable: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Msg.Transno != 5 {
		t.Fatalf("transno after replay %d", rep.Msg.Transno)
	}
	rep.Release()
	mu.Lock()
	got := append([]replayRecord(nil), seen...)
	mu.Unlock()
	want := []replayRecord{{true, 1, "mkdir a"}, {true, 2, "mkdir b"}, {true, 3, "create c"}, {false, 0, "rename"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("server saw %v, want %v", got, want)
	}
	if info := imp.Info(); info.Replays != 3 || info.ReplayQueue != 4 || info.State != StateFull {
		t.Fatalf("import %+v", info)
	}
	// Once the server commits, the next reply's last_committed empties the
	// replay queue.
	after.transnos.CommitAll()
	rep, err = imp.Call(ctx, &Req{Opcode: wire.OBDPing})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	if info := imp.Info(); info.ReplayQueue != 0 || info.LastCommitted != 5 {
		t.Fatalf("after commit %+v", info)
	}
}

// A server dies; its partner in the failover list takes the target over.
func TestFailover(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	ln1 := node(t, f, "lo(1)")
	ln3 := node(t, f, "lo(3)")
	cln := node(t, f, "lo(2)")
	who := func(name string) map[wire.Opcode]Handler {
		return map[wire.Opcode]Handler{opEcho: func(ctx context.Context, r *Request) error {
			r.Reply([]byte(name))
			return nil
		}}
	}
	a := startServer(t, ln1, who("A"))
	startServer(t, ln3, who("B"))
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1), lnet.LoNID(3)})
	connect(t, imp)
	ctx := testCtx(t)
	call := func() string {
		rep, err := imp.Call(ctx, &Req{Opcode: opEcho})
		if err != nil {
			t.Fatal(err)
		}
		defer rep.Release()
		return string(rep.Body)
	}
	if got := call(); got != "A" {
		t.Fatalf("first answer from %q", got)
	}
	a.svc.Close()
	if err := ln1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := call(); got != "B" {
		t.Fatalf("after failover, answer from %q", got)
	}
	if info := imp.Info(); info.CurrentNID != lnet.LoNID(3) || info.State != StateFull {
		t.Fatalf("import %+v", info)
	}
}

// A slow handler: the server's early replies keep extending the client's
// deadline, so the request is neither timed out nor resent.
func TestEarlyReply(t *testing.T) {
	leaktest.Check(t)
	var imp *Import
	var executed atomic.Int64
	var srv *server
	// Margins wide enough that a stalled machine does not beat them.
	at := ATConfig{Min: time.Second, Max: 5 * time.Second, History: 10 * time.Second,
		EarlyMargin: 700 * time.Millisecond, Extra: 500 * time.Millisecond}
	srv, imp = pairSetup(t, map[wire.Opcode]Handler{wire.OSTSync: func(ctx context.Context, r *Request) error {
		executed.Add(1)
		// Outlive at least two client deadlines.
		for imp.Info().EarlyReplies < 2 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-waitTick():
			}
		}
		r.Reply([]byte("synced"))
		return nil
	}}, []serverOpt{func(sc *ServiceConfig, _ *TargetConfig) { sc.AT = at }}, func(ic *ImportConfig) { ic.AT = at })
	rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.OSTSync})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Release()
	if string(rep.Body) != "synced" || executed.Load() != 1 {
		t.Fatalf("reply %q, executed %d", rep.Body, executed.Load())
	}
	if info := imp.Info(); info.Timeouts != 0 || info.Resends != 0 {
		t.Fatalf("import %+v", info)
	}
	if srv.svc.Stats().EarlyReplies < 2 {
		t.Fatalf("service %+v", srv.svc.Stats())
	}
}

// The pinger keeps an idle import alive and brings last_committed, which
// empties the replay queue without any other traffic.
func TestPingerCommits(t *testing.T) {
	leaktest.Check(t)
	var srv *server
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
		r.SetTransno(srv.transnos.Next())
		return nil
	}}, nil, func(c *ImportConfig) { c.PingInterval = 20 * 1e6 })
	rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.MDSReint, Replayable: true})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	if q := imp.Info().ReplayQueue; q != 1 {
		t.Fatalf("replay queue %d", q)
	}
	srv.transnos.CommitAll()
	waitUntil(t, "ping brings last_committed", func() bool { return imp.Info().ReplayQueue == 0 })
}

// An evicted client's outstanding request fails with ErrEvicted; the import
// reconnects as a new client.
func TestEviction(t *testing.T) {
	leaktest.Check(t)
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{opEcho: echo}, nil)
	if !srv.tgt.Evict(imp.ClientUUID()) {
		t.Fatal("no export to evict")
	}
	_, err := imp.Call(testCtx(t), &Req{Opcode: opEcho})
	if !errors.Is(err, ErrEvicted) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("call across eviction: %v", err)
	}
	rep, err := imp.Call(testCtx(t), &Req{Opcode: opEcho, Body: []byte("new life")})
	if err != nil || string(rep.Body) != "new life" {
		t.Fatalf("after eviction: %v", err)
	}
	rep.Release()
	if info := imp.Info(); info.Evictions != 1 {
		t.Fatalf("import %+v", info)
	}
}

// Close fails calls in progress and waits for everything.
func TestCloseDuringCall(t *testing.T) {
	leaktest.Check(t)
	running := make(chan struct{})
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{opEcho: func(ctx context.Context, r *Request) error {
		close(running)
		<-ctx.Done()
		return ctx.Err()
	}}, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := imp.Call(testCtx(t), &Req{Opcode: opEcho})
		errc <- err
	}()
	<-running
	if err := imp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("call during close: %v", err)
	}
	srv.svc.Close()
}

// A connectionless service (lock callbacks) and an import that does not
// connect.
func TestConnectionless(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	var hadExport atomic.Bool
	svc, err := NewService(ServiceConfig{Name: "ldlm_cbd", LNet: sln, Portal: wire.LDLMCBRequestPortal,
		ReplyPortal: wire.LDLMCBReplyPortal, Threads: 1, AT: testAT,
		Handlers: map[wire.Opcode]Handler{wire.LDLMBLCallback: func(ctx context.Context, r *Request) error {
			hadExport.Store(r.Export() != nil)
			r.Reply([]byte("cancelled"))
			return nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) {
		c.NoConnect, c.Target, c.RequestPortal, c.ReplyPortal, c.BulkPortal =
			true, "", wire.LDLMCBRequestPortal, wire.LDLMCBReplyPortal, 0
	})
	connect(t, imp)
	rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.LDLMBLCallback})
	if err != nil || string(rep.Body) != "cancelled" || hadExport.Load() {
		t.Fatalf("callback: %v %v", err, hadExport.Load())
	}
	rep.Release()
	if _, err := imp.Call(testCtx(t), &Req{Opcode: wire.LDLMCPCallback}); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("unknown callback: %v", err)
	}
}

// The ping evictor: a client that stops talking is evicted; one that pings
// is not.
func TestEvictIdle(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	srv := startServer(t, sln, map[wire.Opcode]Handler{opEcho: echo})
	quiet := newImport(t, node(t, f, "lo(2)"), []lnet.NID{lnet.LoNID(1)})
	chatty := newImport(t, node(t, f, "lo(3)"), []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) {
		c.PingInterval = 5 * time.Millisecond
	})
	connect(t, quiet)
	connect(t, chatty)
	mark := time.Now()
	waitUntil(t, "a ping after the mark", func() bool {
		for _, e := range srv.tgt.Exports() {
			if e.ClientUUID == chatty.ClientUUID() && e.LastSeen.After(mark) {
				return true
			}
		}
		return false
	})
	evicted := srv.tgt.EvictIdle(time.Since(mark))
	if len(evicted) != 1 || evicted[0] != quiet.ClientUUID() {
		t.Fatalf("evicted %v, want only %s", evicted, quiet.ClientUUID())
	}
}

// With Lustre's proportions (at_early_margin = at_min), a request whose
// whole timeout is about the margin must not be answered early the moment
// it arrives: quick calls get no early replies at all.
func TestNoEarlyReplyForQuickCalls(t *testing.T) {
	leaktest.Check(t)
	at := ATConfig{Min: 400 * time.Millisecond, Max: 5 * time.Second, History: 10 * time.Second,
		EarlyMargin: 400 * time.Millisecond, Extra: 500 * time.Millisecond}
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{wire.OSTSync: func(ctx context.Context, r *Request) error {
		// Long enough for the early-reply loop (every margin/4) to see it.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(120 * time.Millisecond):
		}
		r.Reply([]byte("ok"))
		return nil
	}}, []serverOpt{func(sc *ServiceConfig, _ *TargetConfig) { sc.AT = at }}, func(ic *ImportConfig) { ic.AT = at })
	for i := 0; i < 5; i++ {
		rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.OSTSync})
		if err != nil {
			t.Fatal(err)
		}
		rep.Release()
	}
	if n := srv.svc.Stats().EarlyReplies; n != 0 {
		t.Errorf("%d early replies to quick calls, want 0", n)
	}
}

// Requests kept with CallKeep (opens) are replayed after every server
// restart although the server committed them, with the body ReplayBody gave,
// in order with each other, until they are dropped; committed requests
// that were not kept are not replayed.
func TestKeptReplay(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	var mu sync.Mutex
	var seen []replayRecord
	// start brings up an incarnation of the target that commits every
	// change before it answers; "no transno" changes get none.
	start := func(inc uint64, last uint64) *server {
		var s *server
		s = startServer(t, sln, map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
			mu.Lock()
			seen = append(seen, replayRecord{r.IsReplay(), r.Msg().Transno, string(r.Body())})
			mu.Unlock()
			if string(r.Body()) != "no transno" && !r.IsReplay() {
				r.SetTransno(s.transnos.Next())
				s.transnos.CommitAll()
			}
			return nil
		}}, func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = inc })
		s.transnos.Start(last)
		s.transnos.CommitAll()
		return s
	}
	srv := start(1, 0)
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) { c.ConnectOpcode = wire.MDSConnect })
	connect(t, imp)
	ctx := testCtx(t)
	keepAs := func(body, replay string) *Kept {
		t.Helper()
		req := &Req{Opcode: wire.MDSReint, Body: []byte(body)}
		if replay != "" {
			req.ReplayBody = func(*Reply) []byte { return []byte(replay) }
		}
		rep, k, err := imp.CallKeep(ctx, req)
		if err != nil || k == nil {
			t.Fatalf("%s: kept %v, %v", body, k, err)
		}
		rep.Release()
		return k
	}
	keep := func(body string) *Kept { t.Helper(); return keepAs(body, "") }
	call := func(body string) {
		t.Helper()
		rep, err := imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte(body), Replayable: true})
		if err != nil {
			t.Fatal(err)
		}
		rep.Release()
	}
	call("mkdir d")                   // transno 1, committed: not replayed
	a := keepAs("open a", "reopen a") // transno 2, replayed as "reopen a"
	b := keep("no transno")           // no transno: after transno 2, committed then
	c := keep("open c")               // transno 3
	c.Drop()                          // closed: never replayed
	c.Drop()                          // twice is harmless
	call("mkdir e")                   // transno 4, committed: not replayed
	// Its replay body made from its reply, before it is kept.
	rep, d, err := imp.CallKeep(ctx, &Req{Opcode: wire.MDSReint, Body: []byte("open d"),
		ReplayBody: func(rep *Reply) []byte { return fmt.Appendf(nil, "reopen d %d", rep.Msg.Transno) }})
	if err != nil || d == nil {
		t.Fatalf("open d: kept %v, %v", d, err)
	}
	rep.Release()
	if info := imp.Info(); info.Kept != 3 || info.ReplayQueue != 0 || info.LastCommitted != 5 {
		t.Fatalf("before restart %+v", info)
	}
	restart := func(inc uint64) {
		t.Helper()
		srv.svc.Close()
		mu.Lock()
		seen = nil
		mu.Unlock()
		srv = start(inc, 5)
		call("after") // waits for the import to reconnect and replay first
	}
	restart(2)
	want := []replayRecord{{true, 2, "reopen a"}, {true, 0, "no transno"}, {true, 5, "reopen d 5"}, {false, 0, "after"}}
	mu.Lock()
	got := append([]replayRecord(nil), seen...)
	mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first restart: server saw %v, want %v", got, want)
	}
	// Still kept after replay and commit: the next restart replays them
	// again, until they are dropped.
	a.Drop()
	restart(3)
	want = []replayRecord{{true, 0, "no transno"}, {true, 5, "reopen d 5"}, {false, 0, "after"}}
	mu.Lock()
	got = append([]replayRecord(nil), seen...)
	mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second restart: server saw %v, want %v", got, want)
	}
	if info := imp.Info(); info.Kept != 2 || info.Replays != 5 || info.State != StateFull {
		t.Fatalf("after restarts %+v", info)
	}
	b.Drop()
	d.Drop()
	if info := imp.Info(); info.Kept != 0 {
		t.Fatalf("after drop %+v", info)
	}
}

// A kept request dropped while the replay is under way (its file closed)
// is not sent.
func TestKeptDroppedDuringReplay(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	reint := func(s **server, seen chan<- string, hold <-chan struct{}) map[wire.Opcode]Handler {
		return map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
			if r.IsReplay() {
				seen <- string(r.Body())
				<-hold
				return nil
			}
			r.SetTransno((*s).transnos.Next())
			(*s).transnos.CommitAll()
			return nil
		}}
	}
	seen := make(chan string, 4)
	hold := make(chan struct{})
	var before, after *server
	before = startServer(t, sln, reint(&before, seen, hold), func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = 1 })
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) { c.ConnectOpcode = wire.MDSConnect })
	connect(t, imp)
	ctx := testCtx(t)
	var kept []*Kept
	for _, body := range []string{"open a", "open b"} {
		rep, k, err := imp.CallKeep(ctx, &Req{Opcode: wire.MDSReint, Body: []byte(body)})
		if err != nil || k == nil {
			t.Fatalf("%s: kept %v, %v", body, k, err)
		}
		rep.Release()
		kept = append(kept, k)
	}
	before.svc.Close()
	after = startServer(t, sln, reint(&after, seen, hold), func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = 2 })
	done := make(chan error, 1)
	go func() {
		rep, err := imp.Call(ctx, &Req{Opcode: wire.OBDPing}) // waits for the replay
		rep.Release()
		done <- err
	}()
	if got := <-seen; got != "open a" {
		t.Fatalf("first replay %q", got)
	}
	kept[1].Drop() // while "open a" is being replayed
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-seen:
		t.Fatalf("%q replayed after it was dropped", got)
	default:
	}
	if info := imp.Info(); info.Kept != 1 || info.Replays != 1 {
		t.Fatalf("import %+v", info)
	}
}
