package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/stria-fs/stria/wire"
)

func update(t *testing.T, s *Store, fn func(*Tx) error) uint64 {
	t.Helper()
	tn, err := s.Update(context.Background(), fn)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func view(t *testing.T, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestDirentsOrderAndResume(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	dir := wire.FID{Seq: wire.SeqNormalStart, Oid: 77}
	other := wire.FID{Seq: wire.SeqNormalStart, Oid: 78}
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("name-%02d", i))
	}
	update(t, s, func(t *Tx) error {
		for i, n := range names {
			if err := t.PutDirent(dir, n, Dirent{FID: wire.FID{Seq: 9, Oid: uint32(i)}, Type: 8}); err != nil {
				return err
			}
		}
		return t.PutDirent(other, "elsewhere", Dirent{FID: wire.FID{Seq: 9}, Type: 4})
	})
	// Walk in pages of 7, resuming at last position + 1.
	var got []string
	var from uint64
	for {
		var page []string
		var lastPos uint64
		view(t, s, func(t *Tx) error {
			return t.Dirents(dir, from, func(pos uint64, name string, d Dirent) bool {
				if pos < from || pos != NamePos(name) || pos < cookieFirst {
					panic(fmt.Sprintf("pos %#x of %q from %#x", pos, name, from))
				}
				page = append(page, name)
				lastPos = pos
				return len(page) < 7
			})
		})
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		from = lastPos + 1
	}
	want := slices.Clone(names)
	sort.Slice(want, func(i, j int) bool { return NamePos(want[i]) < NamePos(want[j]) })
	if !slices.Equal(got, want) {
		t.Fatalf("walk %v\nwant %v", got, want)
	}
	view(t, s, func(tx *Tx) error {
		d, err := tx.Dirent(dir, "name-07")
		if err != nil || d.FID.Oid != 7 || d.Type != 8 {
			t.Errorf("lookup: %+v, %v", d, err)
		}
		if _, err := tx.Dirent(dir, "elsewhere"); !errors.Is(err, ErrNotFound) {
			t.Errorf("entry of another dir found: %v", err)
		}
		if !tx.HasDirents(dir) || tx.HasDirents(wire.FID{Seq: 5}) {
			t.Error("HasDirents wrong")
		}
		if _, err := tx.Dirent(dir, ""); !errors.Is(err, ErrBadKey) {
			t.Errorf("empty name: %v", err)
		}
		return nil
	})
	update(t, s, func(t *Tx) error {
		for _, n := range names {
			if err := t.DeleteDirent(dir, n); err != nil {
				return err
			}
		}
		if err := t.DeleteDirent(dir, names[0]); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("second delete: %v", err)
		}
		return nil
	})
	view(t, s, func(tx *Tx) error {
		if tx.HasDirents(dir) || !tx.HasDirents(other) {
			t.Error("HasDirents after delete wrong")
		}
		return nil
	})
}

func TestInodeRecordsAndDestroy(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	var f wire.FID
	update(t, s, createOp(wire.RootFID, "file", &f))
	update(t, s, func(t *Tx) error {
		if err := t.SetXattr(f, "user.a", []byte("1")); err != nil {
			return err
		}
		if err := t.SetXattr(f, "lustre.lov", nil); err != nil {
			return err
		}
		if err := t.PutSymlink(f, "/target"); err != nil {
			return err
		}
		if err := t.AddLink(f, wire.FID{Seq: 3}, "second"); err != nil {
			return err
		}
		return t.AddOrphan(f, Orphan{Time: 42})
	})
	view(t, s, func(tx *Tx) error {
		if v, err := tx.Xattr(f, "lustre.lov"); err != nil || len(v) != 0 || v == nil {
			t.Errorf("empty xattr: %q, %v", v, err)
		}
		var names []string
		_ = tx.Xattrs(f, func(name string, v []byte) bool { names = append(names, name+"="+string(v)); return true })
		if fmt.Sprint(names) != "[lustre.lov= user.a=1]" {
			t.Errorf("xattrs %v", names)
		}
		if tg, err := tx.Symlink(f); err != nil || tg != "/target" {
			t.Errorf("symlink %q, %v", tg, err)
		}
		var links []string
		_ = tx.Links(f, func(p wire.FID, name string) bool { links = append(links, p.String()+"/"+name); return true })
		if len(links) != 2 {
			t.Errorf("links %v", links)
		}
		var orphans []wire.FID
		_ = tx.Orphans(func(o wire.FID, rec Orphan) bool { orphans = append(orphans, o); return rec.Time == 42 })
		if !tx.IsOrphan(f) || len(orphans) != 1 || orphans[0] != f {
			t.Errorf("orphans %v", orphans)
		}
		return nil
	})
	update(t, s, func(t *Tx) error {
		if err := t.RemoveXattr(f, "nope"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove missing xattr: %v", err)
		}
		if err := t.RemoveLink(f, wire.FID{Seq: 3}, "nope"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove missing link: %v", err)
		}
		if err := t.DeleteDirent(wire.RootFID, "file"); err != nil {
			return err
		}
		return t.DestroyInode(f)
	})
	view(t, s, func(tx *Tx) error {
		if _, err := tx.Inode(f); !errors.Is(err, ErrNotFound) {
			t.Errorf("inode after destroy: %v", err)
		}
		if _, err := tx.Xattr(f, "user.a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("xattr after destroy: %v", err)
		}
		if _, err := tx.Symlink(f); !errors.Is(err, ErrNotFound) {
			t.Errorf("symlink after destroy: %v", err)
		}
		n := 0
		_ = tx.Links(f, func(wire.FID, string) bool { n++; return true })
		if n != 0 || tx.IsOrphan(f) || tx.InodeCount() != 0 {
			t.Errorf("after destroy: %d links, orphan %v, %d inodes", n, tx.IsOrphan(f), tx.InodeCount())
		}
		return nil
	})
	if _, err := s.Update(context.Background(), func(t *Tx) error { return t.DestroyInode(f) }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("destroy twice: %v", err)
	}
}

func TestReplyDataSaveLoad(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	a, b := "client-a_UUID", "client-b_UUID"
	update(t, s, func(tx *Tx) error {
		for tag := range uint16(3) {
			r := ReplyData{XID: 100 + uint64(tag), Transno: tx.Transno(), Result: -2, Reply: []byte{byte(tag), 1, 2}}
			if err := tx.SaveReply(a, tag, r); err != nil {
				return err
			}
		}
		return tx.SaveReply(b, 0, ReplyData{XID: 7})
	})
	update(t, s, func(tx *Tx) error { return tx.SaveReply(a, 1, ReplyData{XID: 200, Transno: tx.Transno()}) })
	s = reopen(t, s)
	view(t, s, func(tx *Tx) error {
		r, err := tx.Reply(a, 1)
		if err != nil || r.XID != 200 || r.Transno != 2 || r.Reply != nil {
			t.Errorf("slot 1: %+v, %v", r, err)
		}
		r, err = tx.Reply(a, 2)
		if err != nil || r.XID != 102 || r.Transno != 1 || r.Result != -2 || string(r.Reply) != "\x02\x01\x02" {
			t.Errorf("slot 2: %+v, %v", r, err)
		}
		if _, err := tx.Reply(b, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing slot: %v", err)
		}
		var tags []uint16
		_ = tx.Replies(a, func(tag uint16, _ ReplyData) bool { tags = append(tags, tag); return true })
		var clients []string
		_ = tx.Clients(func(c string) bool { clients = append(clients, c); return true })
		if fmt.Sprint(tags) != "[0 1 2]" || fmt.Sprint(clients) != "[client-a_UUID client-b_UUID]" {
			t.Errorf("tags %v clients %v", tags, clients)
		}
		if _, err := tx.Reply("bad\x00uuid", 0); !errors.Is(err, ErrBadKey) {
			t.Errorf("bad uuid: %v", err)
		}
		return nil
	})
	update(t, s, func(tx *Tx) error { return tx.DeleteClient(a) })
	view(t, s, func(tx *Tx) error {
		var clients []string
		_ = tx.Clients(func(c string) bool { clients = append(clients, c); return true })
		if fmt.Sprint(clients) != "[client-b_UUID]" {
			t.Errorf("clients after delete %v", clients)
		}
		return nil
	})
}

func TestUpdateLog(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	var ids []uint64
	update(t, s, func(tx *Tx) error {
		for _, r := range []string{"one", "two", "three"} {
			id, err := tx.PutUpdate([]byte(r))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	update(t, s, func(tx *Tx) error { return tx.DeleteUpdate(ids[1]) })
	s = reopen(t, s)
	update(t, s, func(tx *Tx) error {
		id, err := tx.PutUpdate([]byte("four"))
		if id != 4 {
			return fmt.Errorf("id %d after reopen", id)
		}
		return err
	})
	view(t, s, func(tx *Tx) error {
		var got []string
		_ = tx.Updates(func(id uint64, rec []byte) bool { got = append(got, fmt.Sprintf("%d:%s", id, rec)); return true })
		if fmt.Sprint(got) != "[1:one 3:three 4:four]" {
			t.Errorf("updates %v", got)
		}
		if err := tx.DeleteUpdate(2); !errors.Is(err, ErrReadOnly) && !errors.Is(err, ErrNotFound) {
			t.Errorf("delete in view: %v", err)
		}
		return nil
	})
}

func TestCheckFindsBrokenInvariants(t *testing.T) {
	for name, breakIt := range map[string]func(*Tx) error{
		"xattr of missing inode":  func(t *Tx) error { return t.SetXattr(wire.FID{Seq: 5, Oid: 1}, "user.x", nil) },
		"orphan of missing inode": func(t *Tx) error { return t.AddOrphan(wire.FID{Seq: 5, Oid: 1}, Orphan{}) },
		"inode counter":           func(t *Tx) error { return t.setCounter(keyMetaInodes, 9) },
		"bad dirent record": func(t *Tx) error {
			return t.put(t.bk(bkDirents), direntKey(wire.RootFID, "x"), []byte{1, 2})
		},
		"inode beyond allocator": func(t *Tx) error {
			f, err := t.AllocFID()
			if err != nil {
				return err
			}
			f.Oid += 5
			return t.PutInode(f, &Inode{Mode: TypeReg})
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := func() (*Store, error) {
				path := t.TempDir() + "/mdt.db"
				if err := Format(path, label0, FormatOptions{NoSync: true}, nil); err != nil {
					return nil, err
				}
				return Open(path, Options{NoSync: true})
			}()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Check(context.Background()); err != nil {
				t.Fatalf("fresh store: %v", err)
			}
			update(t, s, breakIt)
			if err := s.Check(context.Background()); !errors.Is(err, ErrInvariant) {
				t.Fatalf("check: %v, want ErrInvariant", err)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.FileBytes <= 0 || u.BlockSize == 0 || u.Blocks == 0 || u.Bavail > u.Blocks {
		t.Fatalf("usage %+v", u)
	}
}
