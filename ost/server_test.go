package ost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

func TestFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ost")
	mgs := [][]lnet.NID{{lnet.MustParseNID("10.0.0.1@tcp"), lnet.MustParseNID("10.1.0.1@o2ib")}, {lnet.MustParseNID("10.0.0.2@tcp")}}
	l, err := Format(dir, FormatOptions{FSName: "lustre", Index: 10, MGSNodes: mgs, Params: []string{"sys.timeout=40"}, Capacity: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if l.Name() != "lustre-OST000a" || l.UUID != "lustre-OST000a_UUID" {
		t.Errorf("label %s %s", l.Name(), l.UUID)
	}
	if got, _ := parseNodes(l.MGSNodes); !slices.EqualFunc(got, mgs, slices.Equal) {
		t.Errorf("MGS nodes %v, want %v", got, mgs)
	}
	capacity, params, err := labelCapacity(l)
	if err != nil || capacity != 1<<30 || !slices.Equal(params, []string{"sys.timeout=40"}) {
		t.Errorf("capacity %d params %q err %v", capacity, params, err)
	}
	if _, err := Format(dir, FormatOptions{FSName: "lustre"}); !errors.Is(err, osd.ErrFormatted) {
		t.Errorf("formatting twice: %v, want ErrFormatted", err)
	}
	if _, err := Format(dir, FormatOptions{FSName: "other", Reformat: true}); err != nil {
		t.Errorf("reformat: %v", err)
	}
	for name, o := range map[string]FormatOptions{
		"long fsname":    {FSName: "waytoolongname"},
		"bad param":      {FSName: "fs", Params: []string{"novalue"}},
		"capacity param": {FSName: "fs", Params: []string{CapacityParam + "=1"}},
		"empty node":     {FSName: "fs", ServiceNodes: [][]lnet.NID{{}}},
		"negative cap":   {FSName: "fs", Capacity: -1},
		"index too big":  {FSName: "fs", Index: 0x10000},
	} {
		if _, err := Format(filepath.Join(t.TempDir(), "x"), o); err == nil {
			t.Errorf("%s: formatted", name)
		}
	}
}

func TestStartRefusesBadTargets(t *testing.T) {
	checkLeaks(t)
	f := lolnd.NewFabric()
	ln := lnetNode(t, f, "lo(1)")
	good := formatDirs(t, 1, 0)[0]
	start := func(dirs ...string) error {
		srv, err := Start(testCtx(t), Config{Dirs: dirs, LNet: ln, Logger: zaptest.NewLogger(t), AT: testAT})
		if err == nil {
			srv.Close()
		}
		return err
	}
	empty := t.TempDir()
	if err := start(good, empty); !errors.Is(err, ErrNotFormatted) || !errors.Is(err, osd.ErrNotFormatted) {
		t.Errorf("unformatted dir: %v, want ErrNotFormatted", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if _, err := Format(other, FormatOptions{FSName: "otherfs", Index: 1}); err != nil {
		t.Fatal(err)
	}
	if err := start(good, other); !errors.Is(err, ErrWrongFS) {
		t.Errorf("another file system's target: %v, want ErrWrongFS", err)
	}
	srv, err := Start(testCtx(t), Config{Dirs: []string{good}, FSName: "otherfs", LNet: ln})
	if err == nil {
		srv.Close()
	}
	if !errors.Is(err, ErrWrongFS) {
		t.Errorf("Config.FSName mismatch: %v, want ErrWrongFS", err)
	}
	twin := filepath.Join(t.TempDir(), "twin")
	if _, err := Format(twin, FormatOptions{FSName: testFS, Index: 0}); err != nil {
		t.Fatal(err)
	}
	if err := start(good, twin); !errors.Is(err, ErrDuplicate) {
		t.Errorf("index served twice: %v, want ErrDuplicate", err)
	}
	if err := start(); !errors.Is(err, ErrConfig) {
		t.Errorf("no dirs: %v, want ErrConfig", err)
	}
	// The refused starts left the good target closed and startable.
	if err := start(good); err != nil {
		t.Errorf("start after refusals: %v", err)
	}
}

func TestParamsAndDevices(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 2, 8<<20, nil)
	if got := c.srv.Targets(); !slices.Equal(got, []string{ostName(0), ostName(1)}) {
		t.Errorf("targets %v", got)
	}
	if got := c.param("obdfilter." + ostName(1) + ".kbytestotal"); got != "8192" {
		t.Errorf("kbytestotal %s, want 8192 (the capacity)", got)
	}
	for _, p := range []string{"kbytesfree", "kbytesavail", "filestotal", "filesfree", "stats", "tot_granted", "num_exports", "uuid"} {
		c.param("obdfilter." + ostName(0) + "." + p)
	}
	if got := c.param("obdfilter." + ostName(0) + ".uuid"); got != ostName(0)+"_UUID" {
		t.Errorf("uuid %s", got)
	}
	c.param("ost.OSS.ost_io.threads_max")
	if err := c.node.Control.Listen(t.TempDir(), "oss"); err != nil {
		t.Fatal(err)
	}
	defer c.node.Close()
	dl, err := obd.Call(testCtx(t), c.node.Control.Path(), "dl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"UP ost OSS OSS_UUID", "UP obdfilter " + ostName(0) + " " + ostName(0) + "_UUID 2",
		"UP obdfilter " + ostName(1)} {
		if !strings.Contains(dl, want) {
			t.Errorf("lctl dl lacks %q:\n%s", want, dl)
		}
	}
	if _, err := c.node.Params.Set("fail_loc", "0x80000215"); err != nil {
		t.Fatal(err)
	}
	if loc, _ := c.srv.fail.get(); loc != FailENOSPC|FailOnce {
		t.Errorf("fail_loc set to %#x", loc)
	}
	imp := c.io()
	if got := c.param("obdfilter." + ostName(0) + ".num_exports"); got != "1" {
		t.Errorf("num_exports %s, want 1", got)
	}
	var rep wire.PrecreateReply
	if err := try(t, imp, wire.OSTCreate, &wire.PrecreateRequest{Count: 1}, &rep); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("precreate under fail_loc 0x215: %v, want ENOSPC", err)
	}
	precreate(t, imp, 0, 1)                              // FailOnce
	if got := c.param("fail_loc"); got != "3221226005" { // 0xc0000215: fired
		t.Errorf("fail_loc after firing once: %s", got)
	}
	st := c.param("obdfilter." + ostName(0) + ".stats")
	if !strings.Contains(st, "create                    2 samples") {
		t.Errorf("stats:\n%s", st)
	}
	if st := c.param("ost.OSS.ost.stats"); !strings.Contains(st, "requests: ") || !strings.Contains(st, "inline: ") ||
		!strings.Contains(st, "detached: ") {
		t.Errorf("ost.OSS.ost.stats:\n%s", st)
	}
	if _, err := c.node.Params.Set("obdfilter."+ostName(0)+".stats", "clear"); err != nil {
		t.Fatal(err)
	}
	if st := c.param("obdfilter." + ostName(0) + ".stats"); strings.Contains(st, "create") {
		t.Errorf("stats after clear:\n%s", st)
	}
	c.stop()
	if _, err := c.node.Params.Get("obdfilter.*"); !errors.Is(err, obd.ErrNoParam) {
		t.Errorf("parameters left after Close: %v", err)
	}
}

func TestAttrs(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.connect(0, wire.OSTRequestPortal, "")
	fid := precreate(t, imp, 0, 1).First
	a, err := getattr(t, imp, fid)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != 0 || a.Valid&wire.AttrMtime != 0 || a.Mode != syscall.S_IFREG|0o666 {
		t.Errorf("fresh object: %+v", a)
	}
	mt := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	var rep wire.ObjectAttrRequest
	call(t, imp, wire.OSTSetattr, &wire.ObjectAttrRequest{FID: fid, Attr: wire.Attr{
		Valid: wire.AttrUID | wire.AttrGID | wire.AttrMtime | wire.AttrSize, UID: 500, GID: 501, Mtime: mt, Size: 12345,
	}}, &rep)
	if rep.Attr.UID != 500 || rep.Attr.GID != 501 || rep.Attr.Mtime != mt || rep.Attr.Size != 12345 {
		t.Errorf("setattr reply %+v", rep.Attr)
	}
	// Times are set as given, backwards included (utimes).
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	call(t, imp, wire.OSTSetattr, &wire.ObjectAttrRequest{FID: fid, Attr: wire.Attr{Valid: wire.AttrMtime, Mtime: old}}, &rep)
	a, _ = getattr(t, imp, fid)
	if a.Mtime != old || a.UID != 500 || a.Size != 12345 {
		t.Errorf("after setting mtime back: %+v", a)
	}
	before := time.Now().UnixNano()
	call(t, imp, wire.OSTSetattr, &wire.ObjectAttrRequest{FID: fid, Attr: wire.Attr{Valid: wire.AttrMtimeNow}}, &rep)
	if rep.Attr.Mtime < before {
		t.Errorf("MtimeNow set %d, before %d", rep.Attr.Mtime, before)
	}
	missing := fid
	missing.Oid++
	if _, err := getattr(t, imp, missing); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("getattr of a missing object: %v", err)
	}
}

func TestPunch(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	data := pattern(256<<10, 4)
	mustWrite(t, imp, fid, 0, data)

	var rep wire.ObjectAttrRequest
	call(t, imp, wire.OSTPunch, &wire.PunchRequest{FID: fid, Start: 64 << 10, End: 128 << 10}, &rep)
	if rep.Attr.Size != 256<<10 {
		t.Errorf("punching a hole changed the size to %d", rep.Attr.Size)
	}
	got, _ := mustRead(t, imp, fid, 0, len(data))
	want := slices.Clone(data)
	clear(want[64<<10 : 128<<10])
	if !bytes.Equal(got, want) {
		t.Error("punched range does not read as zeros, or the rest changed")
	}
	// To EOF: a truncate, down then up.
	call(t, imp, wire.OSTPunch, &wire.PunchRequest{FID: fid, Start: 1000, End: wire.PunchToEOF}, &rep)
	if rep.Attr.Size != 1000 {
		t.Errorf("truncate to 1000: size %d", rep.Attr.Size)
	}
	call(t, imp, wire.OSTPunch, &wire.PunchRequest{FID: fid, Start: 1 << 20, End: wire.PunchToEOF}, &rep)
	got, _ = mustRead(t, imp, fid, 0, 2<<20)
	if len(got) != 1<<20 || !bytes.Equal(got[:1000], data[:1000]) || !bytes.Equal(got[1000:], make([]byte, 1<<20-1000)) {
		t.Errorf("after truncating up to 1 MiB: %d bytes", len(got))
	}
	if err := try(t, imp, wire.OSTPunch, &wire.PunchRequest{FID: fid, Start: 1 << 62, End: wire.PunchToEOF}, nil); !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EFBIG) {
		t.Errorf("truncate past the object limit: %v", err)
	}
}

func TestPrecreateDestroyOrphans(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 2, 0, nil)
	imp := c.connect(1, wire.OSTRequestPortal, "mdt0-osp")
	p := precreate(t, imp, 0, 10)
	if p.First != wire.IDIF(1, 1) || p.Count != 10 {
		t.Errorf("MDT0000's first precreate on OST0001: %v x%d, want %v x10", p.First, p.Count, wire.IDIF(1, 1))
	}
	p2 := precreate(t, imp, 0, 5)
	if p2.First.Seq != p.First.Seq || p2.First.Oid != 11 {
		t.Errorf("second precreate starts at %v", p2.First)
	}
	q := precreate(t, imp, 3, 4)
	if q.First != (wire.FID{Seq: SeqOSTBase | 3<<16 | 1, Oid: 1}) {
		t.Errorf("MDT0003's first object %v", q.First)
	}
	for oid := p.First.Oid; oid < p.First.Oid+15; oid++ {
		if _, err := getattr(t, imp, wire.FID{Seq: p.First.Seq, Oid: oid}); err != nil {
			t.Fatalf("precreated object %d: %v", oid, err)
		}
	}
	var last wire.LastIDReply
	call(t, imp, wire.OSTGetInfo, &wire.LastIDRequest{MDTIndex: 0}, &last)
	if last.LastID != (wire.FID{Seq: p.First.Seq, Oid: 15}) {
		t.Errorf("LAST_ID %v", last.LastID)
	}
	if err := try(t, imp, wire.OSTDestroy, &wire.FIDRequest{FID: wire.FID{Seq: p.First.Seq, Oid: 2}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := getattr(t, imp, wire.FID{Seq: p.First.Seq, Oid: 2}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("destroyed object: %v", err)
	}
	if err := try(t, imp, wire.OSTDestroy, &wire.FIDRequest{FID: wire.FID{Seq: p.First.Seq, Oid: 2}}, nil); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("destroying twice: %v, want ENOENT", err)
	}
	// The MDT used up to 12: 13..15 are orphans.
	var orp wire.OrphanReply
	call(t, imp, wire.OSTSetInfo, &wire.OrphanRequest{MDTIndex: 0, LastUsed: 12}, &orp)
	if orp.Destroyed != 3 || orp.LastID.Oid != 15 {
		t.Errorf("orphan cleanup: %+v", orp)
	}
	for oid := uint32(13); oid <= 15; oid++ {
		if _, err := getattr(t, imp, wire.FID{Seq: p.First.Seq, Oid: oid}); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("orphan %d survives: %v", oid, err)
		}
	}
	if _, err := getattr(t, imp, wire.FID{Seq: p.First.Seq, Oid: 12}); err != nil {
		t.Errorf("used object 12: %v", err)
	}
	// Ids are not reused after the cleanup.
	if p3 := precreate(t, imp, 0, 1); p3.First.Oid != 16 {
		t.Errorf("precreate after orphan cleanup starts at %d, want 16", p3.First.Oid)
	}
	if err := try(t, imp, wire.OSTCreate, &wire.PrecreateRequest{MDTIndex: MaxMDTIndex + 1, Count: 1}, nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("precreate for MDT %d: %v", MaxMDTIndex+1, err)
	}
	if got := c.param("obdfilter." + ostName(1) + ".last_id"); !strings.Contains(got, "0x100010000:16") {
		t.Errorf("last_id:\n%s", got)
	}
}

func TestStatfsSyncAndUnknownOpcode(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 32<<20, nil)
	for _, portal := range []uint32{wire.OSTRequestPortal, wire.OSTIOPortal} {
		imp := c.connect(0, portal, "")
		var st wire.StatFS
		call(t, imp, wire.OSTStatfs, &wire.Empty{}, &st)
		if st.BSize == 0 || st.Blocks*uint64(st.BSize) != 32<<20 || st.BAvail == 0 || st.State != 0 || st.Files == 0 {
			t.Errorf("statfs on portal %d: %+v", portal, st)
		}
		fid := precreate(t, imp, 0, 1).First
		mustWrite(t, imp, fid, 0, pattern(100, 1))
		call(t, imp, wire.OSTSync, &wire.FIDRequest{FID: fid}, nil)
		call(t, imp, wire.OSTSync, &wire.FIDRequest{}, nil)
		if err := try(t, imp, wire.OSTQuotactl, &wire.Empty{}, nil); !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Errorf("unknown opcode: %v, want EOPNOTSUPP", err)
		}
	}
}

func TestRestart(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 2, 0, nil)
	imp := c.io()
	p := precreate(t, imp, 0, 20)
	data := pattern(3<<20+17, 7)
	mustWrite(t, imp, p.First, 5, data)
	_ = imp.Close()
	c.stop()

	c.start(nil)
	imp = c.io()
	got, rep := mustRead(t, imp, p.First, 5, len(data))
	if !bytes.Equal(got, data) || rep.Size != uint64(len(data))+5 {
		t.Errorf("data after restart: %d bytes, size %d", len(got), rep.Size)
	}
	if p2 := precreate(t, imp, 0, 1); p2.First.Oid != p.First.Oid+p.Count {
		t.Errorf("precreate after restart starts at %d, want %d (ids never reused)", p2.First.Oid, p.First.Oid+p.Count)
	}
}

func TestFailPoints(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	data := pattern(4096, 2)

	c.srv.SetFailLoc(FailWriteBulk, 0) // not once: every write fails
	for i := 0; i < 2; i++ {
		if _, err := write(t, imp, fid, 0, data, 0); !errors.Is(err, syscall.EIO) {
			t.Fatalf("write %d under 0x20e: %v, want EIO", i, err)
		}
	}
	c.srv.SetFailLoc(0, 0)
	mustWrite(t, imp, fid, 0, data)

	c.srv.SetFailLoc(FailReadBulk|FailOnce, 0)
	if _, _, err := read(t, imp, fid, 0, 4096); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read under 0x20f: %v, want EIO", err)
	}
	mustRead(t, imp, fid, 0, 4096)

	c.srv.SetFailLoc(FailENOSPC|FailOnce, 0)
	if _, err := write(t, imp, fid, 0, data, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write under 0x215: %v, want ENOSPC", err)
	}

	// A paused write completes once the pause is over; a pause on a
	// closing server ends with it.
	c.srv.SetFailLoc(FailPauseBulk|FailOnce, 20)
	mustWrite(t, imp, fid, 0, data)
	if loc, _ := c.srv.fail.get(); loc&FailFailed == 0 {
		t.Errorf("pause fail point did not fire: fail_loc %#x", loc)
	}
	c.srv.SetFailLoc(FailPauseBulk, 60_000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = write(t, imp, fid, 0, data, 0) // fails once the server is gone
	}()
	waitUntil(t, "the write to reach its pause", func() bool {
		for _, st := range c.srv.ServiceStats() {
			if st.Running > 0 {
				return true
			}
		}
		return false
	})
	c.stop()
	_ = imp.Close()
	wg.Wait()
}

func TestRegistration(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	var got []wire.TargetRegRequest
	fails := 3
	reg := func(ctx context.Context, req wire.TargetRegRequest) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return syscall.ECONNREFUSED
		}
		got = append(got, req)
		return nil
	}
	f := lolnd.NewFabric()
	ln := lnetNode(t, f, "lo(7)")
	root := t.TempDir()
	var dirs []string
	for i, sn := range [][][]lnet.NID{
		nil, // no service nodes: this node's NIDs
		{{lnet.LoNID(8)}, {lnet.LoNID(7), lnet.LoNID(70)}}, // this node second: moved first
	} {
		d := filepath.Join(root, string(rune('a'+i)))
		if _, err := Format(d, FormatOptions{FSName: testFS, Index: uint32(i), ServiceNodes: sn,
			MGSNodes: [][]lnet.NID{{lnet.LoNID(1)}}, Params: []string{"ost.x=1"}, Capacity: 1 << 30}); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	srv, err := Start(testCtx(t), Config{Dirs: dirs, LNet: ln, Logger: zaptest.NewLogger(t), AT: testAT, Register: reg,
		RegisterRetry: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.WaitRegistered(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if !srv.Registered(ostName(0)) || !srv.Registered(ostName(1)) {
		t.Error("Registered is false after WaitRegistered")
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(got, func(a, b wire.TargetRegRequest) int { return int(a.Index) - int(b.Index) })
	if len(got) != 2 {
		t.Fatalf("%d registrations", len(got))
	}
	for _, r := range got {
		if r.FSName != testFS || r.Kind != wire.KindOST || r.UUID != ostName(r.Index)+"_UUID" ||
			!slices.Equal(r.Params, []string{"ost.x=1"}) {
			t.Errorf("registration %+v", r)
		}
	}
	if n := got[0].Nodes; len(n) != 1 || !slices.Equal(n[0].NIDs, ln.NIDs()) {
		t.Errorf("OST0000 nodes %v, want this node's %v", n, ln.NIDs())
	}
	if n := got[1].Nodes; len(n) != 2 || n[0].NIDs[0] != lnet.LoNID(7) || n[1].NIDs[0] != lnet.LoNID(8) {
		t.Errorf("OST0001 nodes %v, want the local node first", n)
	}
}

func TestRegistrationDisabledAndRetryStopsAtClose(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	if err := c.srv.WaitRegistered(testCtx(t)); !errors.Is(err, ErrNoMGS) {
		t.Errorf("WaitRegistered without an MGS: %v", err)
	}
	c.stop()
	down := func(ctx context.Context, req wire.TargetRegRequest) error { return syscall.ECONNREFUSED }
	c.start(func(cfg *Config) { cfg.Register, cfg.RegisterRetry = down, time.Millisecond })
	imp := c.io() // serves while unregistered
	precreate(t, imp, 0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.srv.WaitRegistered(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitRegistered with the MGS down: %v", err)
	}
	c.stop()
	if err := c.srv.WaitRegistered(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitRegistered after Close: %v", err)
	}
}

// TestCloseIdempotent: a second Close is harmless and the data stays.
func TestCloseIdempotent(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	c.stop()
	if err := c.srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(c.dirs[0]); err != nil {
		t.Fatal(err)
	}
}

func TestRegistrationRefused(t *testing.T) {
	checkLeaks(t)
	calls := 0
	var mu sync.Mutex
	refuse := func(ctx context.Context, req wire.TargetRegRequest) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return fmt.Errorf("index taken: %w", syscall.EADDRINUSE)
	}
	c := newCluster(t, 1, 0, func(cfg *Config) { cfg.Register, cfg.RegisterRetry = refuse, time.Millisecond })
	err := c.srv.WaitRegistered(testCtx(t))
	if !errors.Is(err, ErrRefused) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("WaitRegistered after a refusal: %v", err)
	}
	if c.srv.Registered(ostName(0)) {
		t.Error("a refused target counts as registered")
	}
	precreate(t, c.io(), 0, 1) // serves anyway
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("a refusal was retried: %d calls", calls)
	}
}
