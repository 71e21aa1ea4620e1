package lnet_test

import (
	"testing"

	"github.com/stria-fs/stria/lnet"
)

// BenchmarkLoPutGet measures small round trips between two instances over
// lolnd: a 64-byte PUT with its ACK, and a 64-byte GET with its REPLY.
func BenchmarkLoPutGet(b *testing.B) {
	a, t := pair(b)
	const size = 64
	mustAttach(b, t, 10, lnet.MatchSpec{}, lnet.MD{Buf: make([]byte, size), Threshold: lnet.ThresholdInf,
		Options: lnet.MDOpPut | lnet.MDOpGet | lnet.MDManageRemote}, lnet.InsertAfter)
	done := make(chan lnet.EventType, 16)
	h := mustBind(b, a, lnet.MD{Buf: make([]byte, size), Threshold: lnet.ThresholdInf,
		Handler: func(ev lnet.Event) {
			if ev.Err != nil {
				panic(ev.Err)
			}
			done <- ev.Type
		}})
	wait := func() {
		<-done
		<-done
	}
	b.Run("put+ack", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			if err := a.Put(h, lnet.PutArgs{Target: pid(t), Portal: 10, Ack: true}); err != nil {
				b.Fatal(err)
			}
			wait()
		}
	})
	b.Run("get+reply", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			if err := a.Get(h, lnet.GetArgs{Target: pid(t), Portal: 10}); err != nil {
				b.Fatal(err)
			}
			wait()
		}
	})
}
