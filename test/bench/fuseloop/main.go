// Command fuseloop mounts a local directory again through FUSE with the
// kernel's FUSE passthrough switched off, so every read and write goes
// through this process, as Stria's client must; POSIX locks are forwarded to
// the daemon. make bench (test/scripts/bench.sh) runs ../shared/bench's
// suite on it as the ceiling for a FUSE client whose data passes through
// user space. It is ../shared/bench/fuseloop built inside this module, so it
// needs no module download.
//
//	fuseloop [-debug] MOUNTPOINT DIR
//
// It serves until SIGTERM or SIGINT, then unmounts and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// file is a loopback file that declines the kernel's passthrough.
type file struct{ *fs.LoopbackFile }

// PassthroughFd reports no backing file, so the kernel sends every read and
// write to the daemon.
func (f *file) PassthroughFd() (int, bool) { return 0, false }

// node is a loopback node whose open files are *file.
type node struct{ fs.LoopbackNode }

var (
	_ fs.NodeOpener  = (*node)(nil)
	_ fs.NodeCreater = (*node)(nil)
)

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, e := n.LoopbackNode.Open(ctx, flags)
	if e != 0 {
		return nil, 0, e
	}
	return &file{fh.(*fs.LoopbackFile)}, fl, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, e := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if e != 0 {
		return nil, nil, 0, e
	}
	return in, &file{fh.(*fs.LoopbackFile)}, fl, 0
}

func main() {
	debug := flag.Bool("debug", false, "log every FUSE request")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-debug] MOUNTPOINT DIR\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	mnt, orig := flag.Arg(0), flag.Arg(1)
	var st syscall.Stat_t
	if err := syscall.Stat(orig, &st); err != nil {
		log.Fatalf("fuseloop: %s: %v", orig, err)
	}
	root := &fs.LoopbackRoot{Path: orig, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, s *syscall.Stat_t) fs.InodeEmbedder {
		return &node{fs.LoopbackNode{RootData: r}}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode
	srv, err := fs.Mount(mnt, rootNode, &fs.Options{MountOptions: fuse.MountOptions{
		FsName: orig, Name: "nopt", Debug: *debug, EnableLocks: true}})
	if err != nil {
		log.Fatalf("fuseloop: mount %s: %v", mnt, err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			if err := srv.Unmount(); err != nil {
				log.Printf("fuseloop: unmount %s: %v", mnt, err)
			}
		case <-done:
		}
	}()
	srv.Wait()
	close(done)
}
