package layout_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stria-fs/stria/layout"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in       string
		want     uint64
		suffixed bool
	}{
		{"0", 0, false},
		{"1048576", MiB, false},
		{"64K", 64 * KiB, true},
		{"64k", 64 * KiB, true},
		{"4M", 4 * MiB, true},
		{"1G", GiB, true},
		{"2T", 2 << 40, true},
		{"1P", 1 << 50, true},
		{"15E", 15 << 60, true},
		{"1.5M", MiB + MiB/2, true},
		{"0.5k", 512, true},
		{" 4M ", 4 * MiB, true},
	}
	for _, tt := range tests {
		got, suf, err := layout.ParseSize(tt.in)
		if err != nil || got != tt.want || suf != tt.suffixed {
			t.Errorf("ParseSize(%q) = %d, %v, %v; want %d, %v", tt.in, got, suf, err, tt.want, tt.suffixed)
		}
	}
	for _, bad := range []string{"", "M", "-1", "4X", "1..5M", "1.M", ".5M", "16E", "18446744073709551616", "0x10", "1_000"} {
		if _, _, err := layout.ParseSize(bad); !errors.Is(err, layout.ErrSyntax) {
			t.Errorf("ParseSize(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestParseStripeSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		err  error
	}{
		{"4M", 4 * MiB, nil},
		{"64K", 64 * KiB, nil},
		{"1G", GiB, nil},
		{"1048576", MiB, nil},
		{"64", 64 * KiB, nil},             // < 4096: KiB
		{"1024", MiB, nil},                // < 4096: KiB
		{"0", 0, nil},                     // default
		{"4096", 0, layout.ErrStripeSize}, // bytes, not a multiple of 64K
		{"100K", 0, layout.ErrStripeSize},
		{"4G", 0, layout.ErrStripeSize},
		{"4194240K", 4194240 * KiB, nil}, // 4G - 64K
		{"junk", 0, layout.ErrSyntax},
	}
	for _, tt := range tests {
		got, err := layout.ParseStripeSize(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseStripeSize(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseExtentEnd(t *testing.T) {
	for in, want := range map[string]uint64{"-1": layout.EOF, "eof": layout.EOF, "EOF": layout.EOF, "64M": 64 * MiB, "1G": GiB} {
		if got, err := layout.ParseExtentEnd(in); err != nil || got != want {
			t.Errorf("ParseExtentEnd(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := layout.ParseExtentEnd("0"); !errors.Is(err, layout.ErrExtent) {
		t.Errorf("ParseExtentEnd(0) = %v", err)
	}
	if _, err := layout.ParseExtentEnd("-2"); !errors.Is(err, layout.ErrSyntax) {
		t.Errorf("ParseExtentEnd(-2) = %v", err)
	}
}

func TestParseOSTList(t *testing.T) {
	tests := []struct {
		in   string
		want []uint32
	}{
		{"1,2-4,7", []uint32{1, 2, 3, 4, 7}},
		{"5", []uint32{5}},
		{"7,0", []uint32{7, 0}},
		{"0x10-0x11", []uint32{16, 17}},
		{" 1 , 3-3 ", []uint32{1, 3}},
		{"4294967294-4294967295", []uint32{4294967294, 4294967295}},
	}
	for _, tt := range tests {
		got, err := layout.ParseOSTList(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseOSTList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1,", "a", "4-2", "1,1", "1-3,2", "-1", "1-", "+1"} {
		if _, err := layout.ParseOSTList(bad); !errors.Is(err, layout.ErrSyntax) {
			t.Errorf("ParseOSTList(%q) = %v, want ErrSyntax", bad, err)
		}
	}
	if _, err := layout.ParseOSTList("0-5000"); !errors.Is(err, layout.ErrStripeCount) {
		t.Errorf("ParseOSTList(0-5000) = %v", err)
	}
}
