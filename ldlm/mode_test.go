package ldlm

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// The compatibility matrix of the spec (§7.1), as printed there.
const matrix = `
       EX  PW  PR  CW  CR  NL
  EX   -   -   -   -   -   Y
  PW   -   -   -   -   Y   Y
  PR   -   -   Y   -   Y   Y
  CW   -   -   -   Y   Y   Y
  CR   -   Y   Y   Y   Y   Y
  NL   Y   Y   Y   Y   Y   Y
`

var modeByName = map[string]wire.LockMode{
	"EX": wire.LockEX, "PW": wire.LockPW, "PR": wire.LockPR, "CW": wire.LockCW, "CR": wire.LockCR, "NL": wire.LockNL,
}

func TestCompatibilityMatrix(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(matrix), "\n")
	cols := strings.Fields(lines[0])
	pairs := 0
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		a := modeByName[f[0]]
		for i, cell := range f[1:] {
			b := modeByName[cols[i]]
			want := cell == "Y"
			if got := Compatible(a, b); got != want {
				t.Errorf("Compatible(%v, %v) = %v, want %v", a, b, got, want)
			}
			if Compatible(b, a) != want {
				t.Errorf("Compatible(%v, %v) not symmetric", b, a)
			}
			// Every lock type honours the matrix where policies meet.
			p := wire.Policy{Bits: wire.InodeLockUpdate, Start: 0, End: 10}
			for _, typ := range []wire.LockType{wire.LockPlain, wire.LockIBits, wire.LockExtent} {
				if got := Conflicts(typ, a, &p, b, &p); got == want {
					t.Errorf("%v: Conflicts(%v, %v) = %v", typ, a, b, got)
				}
			}
			pairs++
		}
	}
	if pairs != 36 {
		t.Fatalf("%d pairs", pairs)
	}
}

func TestGroupLocks(t *testing.T) {
	p1, p2 := wire.Policy{GID: 1, End: wire.LockEOF}, wire.Policy{GID: 2, End: wire.LockEOF}
	if Conflicts(wire.LockExtent, wire.LockGroup, &p1, wire.LockGroup, &p1) {
		t.Error("one group conflicts with itself")
	}
	if !Conflicts(wire.LockExtent, wire.LockGroup, &p1, wire.LockGroup, &p2) {
		t.Error("two groups do not conflict")
	}
	for m := range modeByName {
		want := m != "NL"
		if got := Conflicts(wire.LockExtent, wire.LockGroup, &p1, modeByName[m], &p2); got != want {
			t.Errorf("GROUP vs %s: conflict %v", m, got)
		}
	}
	if Compatible(wire.LockMode(3), wire.LockNL) || Compatible(wire.LockNL, 0) {
		t.Error("an unknown mode is compatible")
	}
}

func TestIBitsConflicts(t *testing.T) {
	for _, tc := range []struct {
		a, b uint64
		want bool
	}{
		{wire.InodeLockLookup, wire.InodeLockUpdate, false},
		{wire.InodeLockLookup | wire.InodeLockUpdate, wire.InodeLockUpdate, true},
		{wire.InodeLockLayout, wire.InodeLockLayout | wire.InodeLockPerm, true},
		{wire.InodeLockOpen, wire.InodeLockXattr | wire.InodeLockPerm, false},
		{wire.InodeLockFull, wire.InodeLockDOM, true},
	} {
		pa, pb := wire.Policy{Bits: tc.a}, wire.Policy{Bits: tc.b}
		if got := Conflicts(wire.LockIBits, wire.LockEX, &pa, wire.LockPW, &pb); got != tc.want {
			t.Errorf("EX %#x vs PW %#x: %v, want %v", tc.a, tc.b, got, tc.want)
		}
		// Compatible modes never conflict, whatever the bits.
		if Conflicts(wire.LockIBits, wire.LockPR, &pa, wire.LockCR, &pb) {
			t.Errorf("PR %#x vs CR %#x conflict", tc.a, tc.b)
		}
	}
}

func TestExtentOverlap(t *testing.T) {
	for _, tc := range []struct {
		as, ae, bs, be uint64
		want           bool
	}{
		{0, 9, 10, 19, false},
		{0, 10, 10, 19, true},
		{5, 5, 0, wire.LockEOF, true},
		{100, wire.LockEOF, 0, 99, false},
	} {
		a, b := wire.Policy{Start: tc.as, End: tc.ae}, wire.Policy{Start: tc.bs, End: tc.be}
		if got := Conflicts(wire.LockExtent, wire.LockPW, &a, wire.LockPR, &b); got != tc.want {
			t.Errorf("[%d,%d] vs [%d,%d]: %v", tc.as, tc.ae, tc.bs, tc.be, got)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		held, want wire.LockMode
		ok         bool
	}{
		{wire.LockEX, wire.LockPW, true}, {wire.LockPW, wire.LockPR, true}, {wire.LockPR, wire.LockPW, false},
		{wire.LockPR, wire.LockCR, true}, {wire.LockCW, wire.LockPR, false}, {wire.LockCR, wire.LockPR, false},
		{wire.LockPW, wire.LockEX, false}, {wire.LockGroup, wire.LockGroup, true}, {wire.LockGroup, wire.LockPR, false},
	} {
		if got := Covers(tc.held, tc.want); got != tc.ok {
			t.Errorf("Covers(%v, %v) = %v", tc.held, tc.want, got)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []wire.LockDesc{
		ibits(1, wire.LockPR, wire.InodeLockLookup|wire.InodeLockUpdate),
		extent(1, wire.LockPW, 0, wire.LockEOF),
		plain(1, wire.LockEX),
		{Type: wire.LockFlock, Mode: wire.LockNL, Policy: wire.Policy{End: 10}},
		{Type: wire.LockExtent, Mode: wire.LockGroup, Policy: wire.Policy{GID: 7, End: wire.LockEOF}},
	}
	for _, d := range good {
		if err := Validate(&d); err != nil {
			t.Errorf("%v %v: %v", d.Type, d.Mode, err)
		}
	}
	bad := []wire.LockDesc{
		{Type: 99, Mode: wire.LockPR},
		{Type: wire.LockPlain, Mode: 3},
		{Type: wire.LockPlain, Mode: 0},
		ibits(1, wire.LockPR, 0),
		ibits(1, wire.LockPR, 0x80),
		extent(1, wire.LockPR, 10, 9),
		{Type: wire.LockFlock, Mode: wire.LockEX, Policy: wire.Policy{End: 1}},
		{Type: wire.LockIBits, Mode: wire.LockGroup, Policy: wire.Policy{Bits: 1}},
	}
	for _, d := range bad {
		err := Validate(&d)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) || wire.ErrnoOf(err) != wire.Errno(syscall.EINVAL) {
			t.Errorf("%v %v %+v: %v", d.Type, d.Mode, d.Policy, err)
		}
	}
}
