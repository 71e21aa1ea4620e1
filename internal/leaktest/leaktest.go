// Package leaktest checks that a test leaves no goroutine of this module
// running after its cleanups (Close of everything it started) have run.
package leaktest

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

const module = "github.com/stria-fs/stria/"

// Check records the goroutines running now and registers a cleanup that
// fails t if goroutines running code of this module, not started by the
// testing package, remain after every later-registered cleanup has run.
// Call it first in a test, so that its cleanup runs last.
func Check(t testing.TB) {
	t.Helper()
	before := map[string]bool{}
	for _, g := range goroutines() {
		before[g.id] = true
	}
	t.Cleanup(func() {
		// A goroutine that has signalled its owner may still be on its way
		// out: give stragglers a moment, as goleak does.
		var leaked []goroutine
		for wait := time.Millisecond; wait < 5*time.Second; wait *= 2 {
			leaked = leaked[:0]
			for _, g := range goroutines() {
				if !before[g.id] && strings.Contains(g.stack, module) &&
					!strings.Contains(g.stack, "created by testing.") &&
					!strings.Contains(g.stack, "leaktest.") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			time.Sleep(wait)
		}
		for _, g := range leaked {
			t.Errorf("leaked goroutine:\n%s", g.stack)
		}
	})
}

type goroutine struct {
	id    string
	stack string
}

func goroutines() []goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for _, block := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(block, "\n")
		f := strings.Fields(head)
		if len(f) < 2 || f[0] != "goroutine" {
			continue
		}
		out = append(out, goroutine{id: f[1], stack: block})
	}
	return out
}
