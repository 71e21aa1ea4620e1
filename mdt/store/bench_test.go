package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/stria-fs/stria/wire"
)

// BenchmarkCreate measures create-shaped operations (allocate a FID, write
// inode, directory entry and link) through the group committer, with fsync,
// for 1 and 16 concurrent creators. In the same run it measures the
// ceiling's opposite, raw bbolt with one Update (one fsync) per operation
// and the same writers, and reports both rates and their ratio.
func BenchmarkCreate(b *testing.B) {
	for _, creators := range []int{1, 16} {
		b.Run(fmt.Sprintf("creators=%d", creators), func(b *testing.B) {
			s := newStore(b, label0, Options{Logger: zap.NewNop()})
			ctx := context.Background()
			b.ResetTimer()
			parallel(creators, b.N, func(w, i int) {
				if _, err := s.Update(ctx, createOp(wire.RootFID, fmt.Sprintf("w%d-%d", w, i), nil)); err != nil {
					b.Error(err)
				}
			})
			rate := float64(b.N) / b.Elapsed().Seconds()
			b.StopTimer()
			raw := rawBboltRate(b, creators, min(b.N, 100*creators))
			b.ReportMetric(rate, "ops/s")
			b.ReportMetric(raw, "raw-bbolt-ops/s")
			b.ReportMetric(rate/raw, "x-raw")
		})
	}
}

// parallel runs fn(worker, i) n times over w workers.
func parallel(workers, n int, fn func(w, i int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// rawBboltRate is the baseline: the same writes, one db.Update each.
func rawBboltRate(b *testing.B, workers, n int) float64 {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	oid := uint32(0)
	start := time.Now()
	parallel(workers, n, func(w, i int) {
		mu.Lock()
		oid++
		f := wire.FID{Seq: wire.SeqNormalStart, Oid: oid}
		mu.Unlock()
		name := fmt.Sprintf("w%d-%d", w, i)
		err := db.Update(func(tx *bbolt.Tx) error {
			if tx.Bucket([]byte(bucketDirents)).Get(direntKey(wire.RootFID, name)) != nil {
				return fmt.Errorf("exists")
			}
			if err := tx.Bucket([]byte(bucketSeq)).Put([]byte(keySeqLocal), appendLocalSeq(nil, localSeq{Seq: f.Seq, NextOid: f.Oid + 1})); err != nil {
				return err
			}
			ino := Inode{Mode: TypeReg | 0o644, Nlink: 1}
			if err := tx.Bucket([]byte(bucketInodes)).Put(fidKey(f), AppendInode(nil, &ino)); err != nil {
				return err
			}
			if err := tx.Bucket([]byte(bucketDirents)).Put(direntKey(wire.RootFID, name), AppendDirent(nil, Dirent{FID: f, Type: 8})); err != nil {
				return err
			}
			return tx.Bucket([]byte(bucketLinks)).Put(linkKey(f, wire.RootFID, name), []byte{})
		})
		if err != nil {
			b.Error(err)
		}
	})
	return float64(n) / time.Since(start).Seconds()
}
