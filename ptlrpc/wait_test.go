package ptlrpc

import (
	"runtime"
	"testing"
)

// TestWaiterPool: a wake before the wait is not lost, an import keeps at
// most maxIdleWaiters idle, and a closed pool hands out none.
func TestWaiterPool(t *testing.T) {
	var p waiterPool
	w := p.get()
	if w == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("no pollWaiter on Linux")
		}
		return // calls sleep on their channels there
	}
	w.wait(func() bool { return false }) // returns: it need not sleep
	parked := make(chan struct{})
	go func() {
		<-parked
		w.wake()
	}()
	w.wait(func() bool { close(parked); return true }) // returns once woken
	ws := []*pollWaiter{w}
	for range maxIdleWaiters + 2 {
		ws = append(ws, p.get())
	}
	for _, w := range ws {
		p.put(w)
	}
	if n := len(p.idle); n != maxIdleWaiters {
		t.Fatalf("%d idle waiters kept, want %d", n, maxIdleWaiters)
	}
	p.close()
	if w := p.get(); w != nil || len(p.idle) != 0 {
		t.Fatalf("a closed pool handed out %v, keeps %d", w, len(p.idle))
	}
}
