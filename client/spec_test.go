package client

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

func nids(t *testing.T, ss ...string) []lnet.NID {
	t.Helper()
	var out []lnet.NID
	for _, s := range ss {
		n, err := lnet.ParseNID(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestParseMGSSpec(t *testing.T) {
	for _, c := range []struct {
		spec   string
		nodes  [][]string
		fs     string
		subdir string
	}{
		{"10.0.0.1@tcp:/stria", [][]string{{"10.0.0.1@tcp"}}, "stria", ""},
		{"0@lo:/testfs", [][]string{{"0@lo"}}, "testfs", ""},
		{"mgs1@tcp,10.1.0.1@o2ib:mgs2@tcp:/stria", nil, "", ""}, // host names are not NIDs
		{"10.0.0.1@tcp,192.168.1.1@o2ib:10.0.0.2@tcp,192.168.1.2@o2ib:/testfs",
			[][]string{{"10.0.0.1@tcp", "192.168.1.1@o2ib"}, {"10.0.0.2@tcp", "192.168.1.2@o2ib"}}, "testfs", ""},
		{"10.0.0.1@tcp:/stria/projects/a", [][]string{{"10.0.0.1@tcp"}}, "stria", "projects/a"},
		{"10.0.0.1@tcp:/stria/projects//a/", [][]string{{"10.0.0.1@tcp"}}, "stria", "projects/a"},
		{"10.0.0.1@tcp:/stria/", [][]string{{"10.0.0.1@tcp"}}, "stria", ""},
		{"10.0.0.1@tcp1:/a-b_9", [][]string{{"10.0.0.1@tcp1"}}, "a-b_9", ""},
	} {
		nodes, fs, subdir, err := ParseMGSSpec(c.spec)
		if c.nodes == nil {
			if err == nil {
				t.Errorf("%q: parsed as %v %q", c.spec, nodes, fs)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		ok := len(nodes) == len(c.nodes) && fs == c.fs && subdir == c.subdir
		for i := 0; ok && i < len(nodes); i++ {
			ok = slices.Equal(nodes[i], nids(t, c.nodes[i]...))
		}
		if !ok {
			t.Errorf("%q: %v %q %q, want %v %q %q", c.spec, nodes, fs, subdir, c.nodes, c.fs, c.subdir)
		}
	}
	for _, bad := range []string{"", "10.0.0.1@tcp", "10.0.0.1@tcp:", ":/stria", "10.0.0.1@tcp::/stria",
		"10.0.0.1@tcp,:/stria", "10.0.0.1@tcp:/", "10.0.0.1@tcp:/toolongname", "10.0.0.1@tcp:/st ria",
		"10.0.0.1@tcp:/stria/../x", "10.0.0.1@bogus9x:/stria"} {
		if _, _, _, err := ParseMGSSpec(bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%q: %v, want ErrBadSpec", bad, err)
		}
	}
}

func TestTextError(t *testing.T) {
	err := error(textError{syscall.ENOENT})
	if err.Error() != "No such file or directory" || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("%q", err)
	}
	if errnoOf(errors.Join(errors.New("x"), syscall.EACCES)) != syscall.EACCES || errnoOf(errors.New("x")) != syscall.EIO {
		t.Fatal("errnoOf")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{LNet: &lnet.LNet{}, MGSNodes: [][]lnet.NID{nids(t, "0@lo")}, FSName: "stria"}
	c := good
	if err := c.Validate(); err != nil || c.MaxRPCsInFlight != 8 || c.MaxDirtyMB != DefaultMaxDirtyMB || c.MaxRPCSize != 4<<20 {
		t.Fatalf("%v %+v", err, c)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.LNet = nil },
		func(c *Config) { c.MGSNodes = nil },
		func(c *Config) { c.MGSNodes = [][]lnet.NID{{}} },
		func(c *Config) { c.FSName = "" },
		func(c *Config) { c.FSName = "123456789" },
		func(c *Config) { c.MaxRPCsInFlight = 257 },
		func(c *Config) { c.MaxDirtyMB = -1 },
		func(c *Config) { c.MaxRPCSize = 1000 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", c, err)
		}
	}
}

// FuzzParseMGSSpec: any input parses or fails cleanly, and what parses
// prints back to a spec that parses to the same.
func FuzzParseMGSSpec(f *testing.F) {
	for _, s := range []string{"10.0.0.1@tcp:/stria", "a@tcp,b@o2ib:c@tcp:/fs/sub/dir", "0@lo:/x", ":/", "@:/a",
		"1.2.3.4@tcp:/stria/../..", "10.0.0.1@tcp:10.0.0.2@tcp:/s//d/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		nodes, fs, subdir, err := ParseMGSSpec(spec)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("%q: %v is not ErrBadSpec", spec, err)
			}
			return
		}
		if len(nodes) == 0 || checkFSName(fs) != nil {
			t.Fatalf("%q: parsed to %v %q", spec, nodes, fs)
		}
		var parts []string
		for _, n := range nodes {
			if len(n) == 0 {
				t.Fatalf("%q: empty node", spec)
			}
			var ss []string
			for _, nid := range n {
				ss = append(ss, nid.String())
			}
			parts = append(parts, strings.Join(ss, ","))
		}
		again := strings.Join(parts, ":") + ":/" + fs
		if subdir != "" {
			again += "/" + subdir
		}
		n2, fs2, sub2, err := ParseMGSSpec(again)
		if err != nil || fs2 != fs || sub2 != subdir || len(n2) != len(nodes) {
			t.Fatalf("%q printed as %q parses to %v %q %q %v", spec, again, n2, fs2, sub2, err)
		}
	})
}
