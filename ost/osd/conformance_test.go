package osd_test

import (
	"testing"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/ost/osd/osdtest"
	"go.uber.org/zap/zaptest"
)

func TestMemConformance(t *testing.T) {
	osdtest.Run(t, func(t *testing.T, opts osd.Options) osd.Store {
		opts.Logger = zaptest.NewLogger(t)
		m, err := osd.NewMem(opts)
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestDirConformance(t *testing.T) { osdtest.Run(t, dirFactory("")) }

// TestDirSidecarConformance runs the suite with attributes in sidecar files,
// the fallback for file systems without user xattrs.
func TestDirSidecarConformance(t *testing.T) { osdtest.Run(t, dirFactory(osd.AttrsFile)) }

// reopenable is a Dir that the suite can restart.
type reopenable struct {
	*osd.Dir
	dir  string
	opts osd.Options
}

func (r *reopenable) Reopen(t *testing.T) osd.Store {
	if err := r.Dir.Close(); err != nil {
		t.Fatal(err)
	}
	return openDir(t, r.dir, r.opts)
}

func openDir(t *testing.T, dir string, opts osd.Options) *reopenable {
	t.Helper()
	d, err := osd.OpenDir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &reopenable{Dir: d, dir: dir, opts: opts}
}

func dirFactory(attrs string) osdtest.Factory {
	return func(t *testing.T, opts osd.Options) osd.Store {
		dir := t.TempDir()
		if _, err := osd.Format(dir, osd.Label{FSName: "testfs", Index: 1, Attrs: attrs}, false); err != nil {
			t.Fatal(err)
		}
		opts.Logger = zaptest.NewLogger(t)
		return openDir(t, dir, opts)
	}
}
