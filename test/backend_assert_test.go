package test

import (
	"reflect"
	"testing"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/client/fusefs"
)

// The open files of the client library are the adapter's files.
var _ fusefs.File = client.File(nil)

// TestClientIsABackend checks that *client.FS has every method of
// fusefs.Backend with the same signature, reading client.File for
// fusefs.File. (A compile-time `var _ fusefs.Backend = (*client.FS)(nil)`
// needs fusefs.File to be an alias of client.File: client cannot import
// fusefs, and two named interface types are never identical.)
func TestClientIsABackend(t *testing.T) {
	backend := reflect.TypeFor[fusefs.Backend]()
	fs := reflect.TypeFor[*client.FS]()
	same := func(a, b reflect.Type) bool {
		return a == b || a == reflect.TypeFor[fusefs.File]() && b == reflect.TypeFor[client.File]()
	}
	for i := range backend.NumMethod() {
		want := backend.Method(i)
		got, ok := fs.MethodByName(want.Name)
		if !ok {
			t.Errorf("*client.FS has no method %s", want.Name)
			continue
		}
		gt, wt := got.Type, want.Type // gt has the receiver first
		ok = gt.NumIn() == wt.NumIn()+1 && gt.NumOut() == wt.NumOut() && gt.IsVariadic() == wt.IsVariadic()
		for j := 0; ok && j < wt.NumIn(); j++ {
			ok = same(wt.In(j), gt.In(j+1))
		}
		for j := 0; ok && j < wt.NumOut(); j++ {
			ok = same(wt.Out(j), gt.Out(j))
		}
		if !ok {
			t.Errorf("%s: *client.FS has %v, fusefs.Backend wants %v", want.Name, gt, wt)
		}
	}
}
