// Package ostfake is a small in-memory OST service for the MDT's tests:
// it answers OST_CREATE (precreate), OST_DESTROY, OST_STATFS and the
// MDT's OST_GET_INFO (LAST_ID) and OST_SET_INFO (orphans) for any
// number of OST targets over ptlrpc, keeps the set of objects each target
// holds, and can be taken down and brought back, or made to fail, to test
// the MDT's OST proxies. It is not a production OST (package ost is).
package ostfake

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Server serves fake OST targets on one LNet instance.
type Server struct {
	ln     *lnet.LNet
	fsname string
	log    *zap.Logger

	mu      sync.Mutex
	svc     *ptlrpc.Service // nil while down
	targets map[uint32]*target
}

type target struct {
	objects     map[wire.FID]bool
	nextOid     uint32
	statfs      wire.StatFS
	failCreate  syscall.Errno
	failDestroy syscall.Errno
	creates     int // objects created
	destroys    int // OST_DESTROY requests answered with success
	orphanCalls int // OST_SET_INFO orphan cleanups
}

// TargetName is an OST's name: FSNAME-OSTxxxx.
func TargetName(fsname string, index uint32) string { return fmt.Sprintf("%s-OST%04x", fsname, index) }

// Start serves OSTs with the given indexes of file system fsname on ln.
// Each starts with 1 TiB free.
func Start(ln *lnet.LNet, fsname string, log *zap.Logger, indexes ...uint32) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{ln: ln, fsname: fsname, log: log, targets: map[uint32]*target{}}
	for _, i := range indexes {
		s.targets[i] = newTarget()
	}
	if err := s.Up(); err != nil {
		return nil, err
	}
	return s, nil
}

func newTarget() *target {
	return &target{objects: map[wire.FID]bool{}, nextOid: 1,
		statfs: wire.StatFS{Blocks: 1 << 28, BFree: 1 << 28, BAvail: 1 << 28, Files: 1 << 20, FFree: 1 << 20,
			BSize: 4096, NameLen: 255}}
}

// AddTarget serves one more OST, at once if the service is up.
func (s *Server) AddTarget(idx uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.targets[idx] != nil {
		return fmt.Errorf("ostfake: OST %d served already", idx)
	}
	s.targets[idx] = newTarget()
	if s.svc == nil {
		return nil
	}
	tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: TargetName(s.fsname, idx), Handlers: s.handlers(idx)})
	if err != nil {
		return err
	}
	return s.svc.AddTarget(tgt)
}

// Up (re)starts the service, with fresh exports (as a restarted OSS).
func (s *Server) Up() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil {
		return nil
	}
	svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{Name: "ost", LNet: s.ln, Portal: wire.OSTRequestPortal,
		ReplyPortal: wire.OSCReplyPortal, BulkPortal: wire.OSTBulkPortal, Threads: 4, Logger: s.log,
		RequestBufferSize: 256 << 10, MaxRequestSize: 16 << 10})
	if err != nil {
		return err
	}
	for idx := range s.targets {
		tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: TargetName(s.fsname, idx), Handlers: s.handlers(idx)})
		if err == nil {
			err = svc.AddTarget(tgt)
		}
		if err != nil {
			svc.Close()
			return err
		}
	}
	if err := svc.Start(context.Background()); err != nil {
		svc.Close()
		return err
	}
	s.svc = svc
	return nil
}

// Down stops the service: requests go unanswered, as to a dead OSS. The
// objects stay.
func (s *Server) Down() {
	s.mu.Lock()
	svc := s.svc
	s.svc = nil
	s.mu.Unlock()
	if svc != nil {
		svc.Close()
	}
}

// Close stops the service.
func (s *Server) Close() { s.Down() }

func (s *Server) handlers(idx uint32) map[wire.Opcode]ptlrpc.Handler {
	return map[wire.Opcode]ptlrpc.Handler{
		wire.OSTCreate: func(_ context.Context, req *ptlrpc.Request) error {
			var r wire.PrecreateRequest
			if err := req.DecodeBody(&r); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			t := s.targets[idx]
			if t.failCreate != 0 {
				return t.failCreate
			}
			first := wire.IDIF(idx, uint64(t.nextOid))
			for range r.Count {
				t.objects[wire.IDIF(idx, uint64(t.nextOid))] = true
				t.nextOid++
			}
			t.creates += int(r.Count)
			req.ReplyBody(&wire.PrecreateReply{First: first, Count: r.Count})
			return nil
		},
		wire.OSTDestroy: func(_ context.Context, req *ptlrpc.Request) error {
			var r wire.FIDRequest
			if err := req.DecodeBody(&r); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			t := s.targets[idx]
			if t.failDestroy != 0 {
				return t.failDestroy
			}
			if !t.objects[r.FID] {
				return syscall.ENOENT
			}
			delete(t.objects, r.FID)
			t.destroys++
			return nil
		},
		wire.OSTSetInfo: func(_ context.Context, req *ptlrpc.Request) error {
			var r wire.OrphanRequest
			if err := req.DecodeBody(&r); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			t := s.targets[idx]
			n := 0
			for f := range t.objects {
				if f.Oid > r.LastUsed {
					delete(t.objects, f)
					n++
				}
			}
			t.orphanCalls++
			req.ReplyBody(&wire.OrphanReply{LastID: wire.IDIF(idx, uint64(t.nextOid-1)), Destroyed: uint32(n)})
			return nil
		},
		wire.OSTGetInfo: func(_ context.Context, req *ptlrpc.Request) error {
			var r wire.LastIDRequest
			if err := req.DecodeBody(&r); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			req.ReplyBody(&wire.LastIDReply{LastID: wire.IDIF(idx, uint64(s.targets[idx].nextOid-1))})
			return nil
		},
		wire.OSTStatfs: func(_ context.Context, req *ptlrpc.Request) error {
			s.mu.Lock()
			st := s.targets[idx].statfs
			s.mu.Unlock()
			req.ReplyBody(&st)
			return nil
		},
	}
}

// Has reports whether OST idx holds object f.
func (s *Server) Has(idx uint32, f wire.FID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets[idx].objects[f]
}

// Objects returns the objects OST idx holds, sorted.
func (s *Server) Objects(idx uint32) []wire.FID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.FID
	for f := range s.targets[idx].objects {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b wire.FID) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Oid, b.Oid))
	})
	return out
}

// Counts returns how many objects OST idx created and destroyed.
func (s *Server) Counts(idx uint32) (created, destroyed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets[idx]
	return t.creates, t.destroys
}

// OrphanCalls returns how many orphan cleanups OST idx served.
func (s *Server) OrphanCalls(idx uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets[idx].orphanCalls
}

// SetStatFS sets what OST idx answers to statfs.
func (s *Server) SetStatFS(idx uint32, st wire.StatFS) {
	s.mu.Lock()
	s.targets[idx].statfs = st
	s.mu.Unlock()
}

// StatFS returns what OST idx answers to statfs.
func (s *Server) StatFS(idx uint32) wire.StatFS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets[idx].statfs
}

// FailCreate makes OST idx answer precreates with errno (0: succeed).
func (s *Server) FailCreate(idx uint32, errno syscall.Errno) {
	s.mu.Lock()
	s.targets[idx].failCreate = errno
	s.mu.Unlock()
}

// FailDestroy makes OST idx answer destroys with errno (0: succeed).
func (s *Server) FailDestroy(idx uint32, errno syscall.Errno) {
	s.mu.Lock()
	s.targets[idx].failDestroy = errno
	s.mu.Unlock()
}
