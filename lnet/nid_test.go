package lnet_test

import (
	"errors"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

func TestParseNID(t *testing.T) {
	cases := []struct {
		in, out string // out "" means in prints back unchanged
		typ     lnet.NetType
		num     uint16
	}{
		{in: "192.168.1.2@tcp", typ: lnet.SockLND},
		{in: "192.168.1.2@tcp0", out: "192.168.1.2@tcp", typ: lnet.SockLND},
		{in: "10.0.0.1@o2ib1", typ: lnet.O2IBLND, num: 1},
		{in: "10.0.0.1@o2ib65535", typ: lnet.O2IBLND, num: 65535},
		{in: "0@lo", typ: lnet.LoLND},
		{in: "4294967295@lo", typ: lnet.LoLND},
		{in: "2601:8c1:c180::cbdd@tcp", typ: lnet.SockLND},
		{in: "::ffff:10.1.2.3@tcp", out: "10.1.2.3@tcp", typ: lnet.SockLND},
	}
	for _, c := range cases {
		n, err := lnet.ParseNID(c.in)
		if err != nil {
			t.Errorf("ParseNID(%q): %v", c.in, err)
			continue
		}
		want := c.out
		if want == "" {
			want = c.in
		}
		if n.String() != want || n.Net.Type != c.typ || n.Net.Num != c.num {
			t.Errorf("ParseNID(%q) = %v (%v %d)", c.in, n, n.Net.Type, n.Net.Num)
		}
		var back lnet.NID
		if err := back.UnmarshalText([]byte(n.String())); err != nil || back != n {
			t.Errorf("text round trip of %v: %v %v", n, back, err)
		}
		wire := lnet.AppendNID(nil, n)
		if len(wire) != lnet.NIDWireSize {
			t.Errorf("wire size %d", len(wire))
		}
		if d, err := lnet.DecodeNID(wire); err != nil || d != n {
			t.Errorf("wire round trip of %v: %v %v", n, d, err)
		}
	}
	for _, bad := range []string{"", "@tcp", "1.2.3.4@", "1.2.3.4", "1.2.3.4@eth", "1.2.3.4@tcp99999",
		"x@lo", "-1@lo", "1@lo1", "1.2.3@tcp", "fe80::1%eth0@tcp", "4294967296@lo"} {
		if n, err := lnet.ParseNID(bad); !errors.Is(err, lnet.ErrBadNID) {
			t.Errorf("ParseNID(%q) = %v, %v; want ErrBadNID", bad, n, err)
		}
	}
	if _, err := lnet.DecodeNID(make([]byte, 5)); !errors.Is(err, lnet.ErrBadNID) {
		t.Errorf("short DecodeNID: %v", err)
	}
	if z, err := lnet.DecodeNID(make([]byte, lnet.NIDWireSize)); err != nil || !z.IsZero() {
		t.Errorf("zero NID: %v %v", z, err)
	}
	if s := (lnet.ProcessID{NID: lnet.LoNID(0), PID: lnet.PIDLustre}).String(); s != "12345-0@lo" {
		t.Errorf("ProcessID prints %q", s)
	}
	if lnet.HeaderSize != 104 {
		t.Errorf("HeaderSize %d, want 104", lnet.HeaderSize)
	}
}

func TestParseNetworks(t *testing.T) {
	cases := []struct{ in, out string }{
		{"tcp", "tcp"},
		{"tcp0(eth0)", "tcp(eth0)"},
		{" o2ib0(ib0) , tcp0( eth0 , eth1 ) ", "o2ib(ib0),tcp(eth0,eth1)"},
		{"tcp1(127.0.0.2),lo(3)", "tcp1(127.0.0.2),lo(3)"},
	}
	for _, c := range cases {
		nets, err := lnet.ParseNetworks(c.in)
		if err != nil {
			t.Errorf("ParseNetworks(%q): %v", c.in, err)
			continue
		}
		var s string
		for i, n := range nets {
			if i > 0 {
				s += ","
			}
			s += n.String()
		}
		if s != c.out {
			t.Errorf("ParseNetworks(%q) = %q, want %q", c.in, s, c.out)
		}
	}
	for _, bad := range []string{"", "tcp,", "tcp(eth0", "tcp(eth0))", "tcp((eth0))", "tcp(eth0)x",
		"tcp(,eth0)", "eth0", "tcp,tcp0", "lo1"} {
		if n, err := lnet.ParseNetworks(bad); !errors.Is(err, lnet.ErrBadNetworks) {
			t.Errorf("ParseNetworks(%q) = %v, %v; want ErrBadNetworks", bad, n, err)
		}
	}
	if a, err := lnet.ResolveInterface("127.0.0.5"); err != nil || a.String() != "127.0.0.5" {
		t.Errorf("ResolveInterface(127.0.0.5) = %v, %v", a, err)
	}
	if _, err := lnet.ResolveInterface("no-such-if0"); !errors.Is(err, lnet.ErrBadNetworks) {
		t.Errorf("ResolveInterface(no-such-if0): %v", err)
	}
}
