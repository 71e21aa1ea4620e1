package ptlrpc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/netfault"
	"github.com/stria-fs/stria/wire"
)

// releaseRecord is what a server saw of one request, credentials included.
type releaseRecord struct {
	replay  bool
	transno uint64
	uid     uint32
	body    string
}

// releaseServer is a target whose reint handler records what it sees and
// gives each new request a transno, committed only while commit is set;
// hold, when not nil, holds replays until it is closed.
type releaseServer struct {
	*server
	mu     sync.Mutex
	seen   []releaseRecord
	commit bool
}

func startReleaseServer(t *testing.T, ln *lnet.LNet, inc, last uint64, seen chan<- string, hold <-chan struct{}) *releaseServer {
	t.Helper()
	s := &releaseServer{}
	s.server = startServer(t, ln, map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
		s.mu.Lock()
		s.seen = append(s.seen, releaseRecord{r.IsReplay(), r.Msg().Transno, r.Creds().UID, string(r.Body())})
		commit := s.commit
		s.mu.Unlock()
		if r.IsReplay() {
			if seen != nil {
				seen <- string(r.Body())
			}
			if hold != nil {
				<-hold
			}
			return nil
		}
		r.SetTransno(s.transnos.Next())
		if commit {
			s.transnos.CommitAll()
		}
		return nil
	}}, func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = inc })
	s.transnos.Start(last)
	return s
}

func (s *releaseServer) setCommit(on bool) {
	s.mu.Lock()
	s.commit = on
	s.mu.Unlock()
	if on {
		s.transnos.CommitAll()
	}
}

func (s *releaseServer) records() []releaseRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]releaseRecord(nil), s.seen...)
}

// recvLimit receives from ch; it fails t after waitLimit.
func recvLimit[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

// keepOpen sends body with CallKeep as uid, to be replayed as replay.
func keepOpen(t *testing.T, imp *Import, uid uint32, body, replay string) *Kept {
	t.Helper()
	ctx := WithCreds(testCtx(t), Creds{UID: uid, FSUID: uid})
	rep, k, err := imp.CallKeep(ctx, &Req{Opcode: wire.MDSReint, Body: []byte(body),
		ReplayBody: func(*Reply) []byte { return []byte(replay) }})
	if err != nil || k == nil {
		t.Fatalf("%s: kept %v, %v", body, k, err)
	}
	rep.Release()
	return k
}

// A released kept request is dropped once committed; one the server has
// not committed is replayed with the body Release gave (and its own
// credentials) until last_committed passes it.
func TestKeptRelease(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	srv := startReleaseServer(t, sln, 1, 0, nil, nil)
	srv.setCommit(true)
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) { c.ConnectOpcode = wire.MDSConnect })
	connect(t, imp)
	ctx := testCtx(t)

	a := keepOpen(t, imp, 7, "open a", "reopen a") // transno 1, committed
	a.Release([]byte("create a"))                  // committed: gone
	a.Release([]byte("create a"))                  // twice is harmless
	if info := imp.Info(); info.Kept != 0 || info.ReplayQueue != 0 {
		t.Fatalf("after releasing a committed request %+v", info)
	}
	srv.setCommit(false)
	b := keepOpen(t, imp, 8, "open b", "reopen b") // transno 2, not committed
	c := keepOpen(t, imp, 9, "open c", "reopen c") // transno 3, not committed, stays kept
	b.Release([]byte("create b"))
	b.Drop() // released: nothing left to drop
	var nilKept *Kept
	nilKept.Release([]byte("x"))
	if info := imp.Info(); info.Kept != 1 || info.ReplayQueue != 1 {
		t.Fatalf("after releasing an uncommitted request %+v", info)
	}

	// The server restarts having committed transno 1 only.
	srv.svc.Close()
	srv = startReleaseServer(t, sln, 2, 1, nil, nil)
	srv.transnos.last.Store(3) // the new instance goes on after the replays
	rep, err := imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte("after"), Replayable: true})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	want := []releaseRecord{{true, 2, 8, "create b"}, {true, 3, 9, "reopen c"}, {false, 0, 0, "after"}}
	if got := srv.records(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("server saw %v, want %v", got, want)
	}
	// Once committed, the released request goes; the kept one stays.
	srv.setCommit(true)
	rep, err = imp.Call(ctx, &Req{Opcode: wire.OBDPing})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	if info := imp.Info(); info.Kept != 1 || info.ReplayQueue != 0 || info.LastCommitted != 4 {
		t.Fatalf("after commit %+v", info)
	}
	c.Release(nil) // committed now: dropped
	if info := imp.Info(); info.Kept != 0 || info.ReplayQueue != 0 {
		t.Fatalf("after releasing c %+v", info)
	}
}

// A request released while the replay is under way takes its new body:
// before its own replay if that has not been sent yet, after it if it
// has (the next restart replays the new body).
func TestKeptReleasedDuringReplay(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	srv := startReleaseServer(t, sln, 1, 0, nil, nil)
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) { c.ConnectOpcode = wire.MDSConnect })
	connect(t, imp)
	ctx := testCtx(t)
	a := keepOpen(t, imp, 1, "open a", "reopen a") // transno 1
	b := keepOpen(t, imp, 1, "open b", "reopen b") // transno 2

	seen := make(chan string, 4)
	hold := make(chan struct{})
	srv.svc.Close()
	srv = startReleaseServer(t, sln, 2, 0, seen, hold)
	unhold := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(unhold) // before the service closes, should the test fail
	done := make(chan error, 1)
	go func() {
		rep, err := imp.Call(ctx, &Req{Opcode: wire.OBDPing}) // waits for the replay
		rep.Release()
		done <- err
	}()
	if got := recvLimit(t, seen); got != "reopen a" {
		t.Fatalf("first replay %q", got)
	}
	a.Release([]byte("create a")) // while its own replay is under way
	b.Release([]byte("create b")) // before its replay
	unhold()
	if err := recvLimit(t, done); err != nil {
		t.Fatal(err)
	}
	if got := recvLimit(t, seen); got != "create b" {
		t.Fatalf("second replay %q, want the released body", got)
	}
	if info := imp.Info(); info.Kept != 0 || info.ReplayQueue != 2 {
		t.Fatalf("after the replay %+v", info)
	}

	// Nothing committed: the next restart replays both released bodies.
	srv.svc.Close()
	srv = startReleaseServer(t, sln, 3, 0, nil, nil)
	rep, err := imp.Call(ctx, &Req{Opcode: wire.OBDPing})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	want := []releaseRecord{{true, 1, 1, "create a"}, {true, 2, 1, "create b"}}
	if got := srv.records(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second restart: server saw %v, want %v", got, want)
	}
}

// A replay cut short (a replayed request lost: its attempt times out) is
// done again on the next connection to the same server instance, from
// the start, before any other request.
func TestReplayCutShortIsRedone(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	sln := node(t, f, "lo(1)", netfault.Wrap(lolnd.New(f), rules))
	cln := node(t, f, "lo(2)")
	var xid atomic.Uint64 // of "open b"
	reint := func(s **server, seen *[]string, mu *sync.Mutex) map[wire.Opcode]Handler {
		return map[wire.Opcode]Handler{wire.MDSReint: func(ctx context.Context, r *Request) error {
			mu.Lock()
			*seen = append(*seen, fmt.Sprintf("%v %s", r.IsReplay(), r.Body()))
			mu.Unlock()
			if string(r.Body()) == "open b" && !r.IsReplay() {
				xid.Store(r.Msg().XID)
			}
			if !r.IsReplay() {
				r.SetTransno((*s).transnos.Next())
			}
			return nil
		}}
	}
	var mu sync.Mutex
	var seen []string
	var before, after *server
	before = startServer(t, sln, reint(&before, &seen, &mu), func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = 1 })
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, func(c *ImportConfig) { c.ConnectOpcode = wire.MDSConnect })
	connect(t, imp)
	ctx := testCtx(t)
	for _, body := range []string{"open a", "open b"} {
		rep, err := imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte(body), Replayable: true})
		if err != nil {
			t.Fatal(err)
		}
		rep.Release()
	}
	before.svc.Close()
	mu.Lock()
	seen = nil
	mu.Unlock()
	// The first replay of "open b" is lost on its way to the server.
	rules.Add(netfault.Rule{Match: netfault.Match{Dst: lnet.LoNID(1), Types: []lnet.MsgType{lnet.MsgPut},
		Portals: []uint32{testReqPortal}, Bits: func(b uint64) bool { return b == xid.Load() }},
		Action: netfault.Drop, Count: 1})
	after = startServer(t, sln, reint(&after, &seen, &mu), func(_ *ServiceConfig, tc *TargetConfig) { tc.Incarnation = 2 })
	after.transnos.last.Store(2) // nothing committed; new transnos after the replayed ones
	rep, err := imp.Call(ctx, &Req{Opcode: wire.MDSReint, Body: []byte("after"), Replayable: true})
	if err != nil {
		t.Fatal(err)
	}
	rep.Release()
	mu.Lock()
	got := fmt.Sprint(seen)
	mu.Unlock()
	if want := "[true open a true open a true open b false after]"; got != want {
		t.Fatalf("server saw %s, want %s", got, want)
	}
	if st := rules.Stats(); st.Dropped != 1 {
		t.Fatalf("netfault %+v", st)
	}
}
