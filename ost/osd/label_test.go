package osd

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"go.uber.org/zap/zaptest"
)

func TestLabelValidate(t *testing.T) {
	for _, l := range []Label{
		{FSName: ""}, {FSName: "toolongnm"}, {FSName: "bad/x"}, {FSName: "ok", Index: 0xffff},
		{FSName: "ok", UUID: "has space"}, {FSName: "ok", Attrs: "zfs"},
	} {
		if err := l.Validate(); !errors.Is(err, ErrBadLabel) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%+v: Validate = %v, want ErrBadLabel", l, err)
		}
	}
	for _, l := range []Label{{FSName: "a"}, {FSName: "tst-f_1", Index: MaxIndex}, {FSName: "lustre", Attrs: AttrsFile}} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	if n := (Label{FSName: "testfs", Index: 10}).Name(); n != "testfs-OST000a" {
		t.Errorf("Name = %q", n)
	}
}

func TestFormatAndOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ost1")
	_, err := OpenDir(dir, Options{})
	if !errors.Is(err, ErrNotFormatted) || !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("OpenDir of nothing: %v", err)
	}
	l, err := Format(dir, Label{FSName: "testfs", Index: 1, MGSNodes: []string{"10.0.0.1@tcp"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if l.UUID != "testfs-OST0001_UUID" || len(l.Instance) != 32 || l.Format != FormatVersion || l.Attrs == "" {
		t.Fatalf("formatted label %+v", l)
	}
	got, err := ReadLabel(dir)
	if err != nil || got.Instance != l.Instance || got.MGSNodes[0] != "10.0.0.1@tcp" {
		t.Fatalf("ReadLabel = %+v, %v", got, err)
	}
	_, err = Format(dir, Label{FSName: "other", Index: 1}, false)
	if !errors.Is(err, ErrFormatted) || !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("Format over a target: %v", err)
	}

	d, err := OpenDir(dir, Options{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Label().Name() != "testfs-OST0001" {
		t.Fatalf("opened %s", d.Label().Name())
	}
	ctx := t.Context()
	if _, _, err := d.Precreate(ctx, 0x2c0000400, 3); err != nil {
		t.Fatal(err)
	}
	d.Close()

	// Reformat wipes objects and LAST_ID, keeps foreign files, draws a new instance.
	foreign := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(foreign, []byte("admin's"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2, err := Format(dir, Label{FSName: "testfs", Index: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Instance == l.Instance {
		t.Fatal("reformat kept the instance")
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Fatalf("reformat removed a foreign file: %v", err)
	}
	d, err = OpenDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, err := d.LastID(ctx, 0x2c0000400); v != 0 || err != nil {
		t.Fatalf("LastID after reformat: %d %v", v, err)
	}
	if seqs, err := d.Sequences(ctx); len(seqs) != 0 || err != nil {
		t.Fatalf("sequences after reformat: %v %v", seqs, err)
	}
}

func TestFormatRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Format(dir, Label{FSName: "testfs"}, false)
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Format of a used dir: %v", err)
	}
	if _, err := Format(dir, Label{FSName: "testfs"}, true); err != nil {
		t.Fatalf("Format with reformat: %v", err)
	}
}

func TestCorruptLabel(t *testing.T) {
	dir := t.TempDir()
	if _, err := Format(dir, Label{FSName: "testfs"}, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, labelName), []byte(`{"fsname":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(dir, Options{}); !errors.Is(err, ErrBadLabel) {
		t.Fatalf("OpenDir with a torn label: %v", err)
	}
	if _, err := Format(dir, Label{FSName: "testfs"}, false); !errors.Is(err, ErrFormatted) {
		t.Fatalf("Format over a torn label: %v", err)
	}
	if _, err := Format(dir, Label{FSName: "testfs"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLabel(dir); err != nil {
		t.Fatal(err)
	}
}

// TestFormatPicksAttrsByProbe: left to choose, Format keeps attributes in
// xattrs exactly when the file system takes them.
func TestFormatPicksAttrsByProbe(t *testing.T) {
	dir := t.TempDir()
	ok, err := probeXattr(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Format(dir, Label{FSName: "testfs"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]string{true: AttrsXattr, false: AttrsFile}[ok]; l.Attrs != want {
		t.Fatalf("attrs %q with xattr support %v", l.Attrs, ok)
	}
}
