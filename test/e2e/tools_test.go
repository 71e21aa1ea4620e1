package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// testLfs runs lfs setstripe, getstripe, df, path2fid and fid2path against
// the real mount.
func testLfs(t *testing.T, c *cluster.Cluster) {
	dir := freshDir(t, c, 0)
	f := filepath.Join(dir, "f")
	lfsOK(t, c, "setstripe", "-c", "2", "-S", "1M", f)
	must(t, "write", os.WriteFile(f, make([]byte, 3<<20), 0o644))
	if got := strings.TrimSpace(lfsOK(t, c, "getstripe", "-c", f)); got != "2" {
		t.Errorf("getstripe -c: %q", got)
	}
	if got := strings.TrimSpace(lfsOK(t, c, "getstripe", "-S", f)); got != "1048576" {
		t.Errorf("getstripe -S: %q", got)
	}
	out := lfsOK(t, c, "getstripe", f)
	objs := regexp.MustCompile(`(?m)^\s+\d+\s+\d+\s+0x[0-9a-f]+\s+\d+\s*$`).FindAllString(out, -1)
	if len(objs) != 2 || !strings.Contains(out, "lmm_stripe_count:  2") {
		t.Errorf("getstripe shows %d objects:\n%s", len(objs), out)
	}
	// Through the other client, the same layout.
	rel, _ := filepath.Rel(c.Mount(0), f)
	if got := lfsOK(t, c, "getstripe", filepath.Join(c.Mount(1), rel)); got != strings.ReplaceAll(out, c.Mount(0), c.Mount(1)) {
		t.Errorf("client 1's getstripe differs:\n%s\nvs\n%s", got, out)
	}

	// A directory's default reaches new files.
	sub := filepath.Join(dir, "wide")
	must(t, "mkdir", os.Mkdir(sub, 0o755))
	lfsOK(t, c, "setstripe", "-c", "4", "-S", "64K", sub)
	if got := lfsOK(t, c, "getstripe", "-d", sub); !strings.Contains(got, "stripe_count:  4") || !strings.Contains(got, "stripe_size:   65536") {
		t.Errorf("getstripe -d:\n%s", got)
	}
	must(t, "write", os.WriteFile(filepath.Join(sub, "g"), []byte("x"), 0o644))
	if got := strings.TrimSpace(lfsOK(t, c, "getstripe", "-c", filepath.Join(sub, "g"))); got != "4" {
		t.Errorf("a new file in the directory has %s stripes", got)
	}

	df := lfsOK(t, c, "df", c.Mount(0))
	for _, want := range append([]string{c.FSName() + "-MDT0000_UUID", "filesystem_summary:"}, ostUUIDs(c)...) {
		if !strings.Contains(df, want) {
			t.Errorf("lfs df lacks %s:\n%s", want, df)
		}
	}
	if out := lfsOK(t, c, "df", "-i", "-h", c.Mount(1)); !strings.Contains(out, "filesystem_summary:") {
		t.Errorf("lfs df -i -h:\n%s", out)
	}

	fid := strings.TrimSpace(lfsOK(t, c, "path2fid", f))
	if !regexp.MustCompile(`^\[0x[0-9a-f]+:0x[0-9a-f]+:0x[0-9a-f]+\]$`).MatchString(fid) {
		t.Fatalf("path2fid: %q", fid)
	}
	for _, where := range []string{c.Mount(0), c.FSName()} {
		out := strings.TrimSpace(lfsOK(t, c, "fid2path", where, fid))
		if !strings.HasSuffix(out, rel) {
			t.Errorf("fid2path %s %s: %q, want a path ending in %s", where, fid, out, rel)
		}
	}
}

func ostUUIDs(c *cluster.Cluster) []string {
	var out []string
	for i := range c.OSTs() {
		out = append(out, fmt.Sprintf("%s-OST%04x_UUID", c.FSName(), i))
	}
	return out
}

// testSetstripeRefused: bad stripe sizes and counts are refused with a
// clear message, and nothing is created or changed.
func testSetstripeRefused(t *testing.T, c *cluster.Cluster) {
	dir := freshDir(t, c, 0)
	ctx := tctx(t)
	for _, bad := range []struct {
		args []string
		says string
	}{
		{[]string{"-S", "100K"}, "65536"},
		{[]string{"-S", "1000"}, "65536"},
		{[]string{"-c", "5"}, ""},
	} {
		f := filepath.Join(dir, "f")
		out, errOut, code := c.Lfs(ctx, append(append([]string{"setstripe"}, bad.args...), f)...)
		if code == 0 {
			t.Errorf("setstripe %v: accepted: %s", bad.args, out)
		}
		if strings.TrimSpace(errOut) == "" || !strings.Contains(errOut, bad.says) {
			t.Errorf("setstripe %v: message %q should say %q", bad.args, errOut, bad.says)
		}
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Errorf("setstripe %v left %s behind (%v)", bad.args, f, err)
			os.Remove(f)
		}
	}
	// On an existing file: EEXIST (17), layout unchanged.
	f := filepath.Join(dir, "exists")
	lfsOK(t, c, "setstripe", "-c", "1", f)
	if _, errOut, code := c.Lfs(ctx, "setstripe", "-c", "2", f); code != 17 {
		t.Errorf("setstripe on an existing file: exit %d (%s), want 17", code, errOut)
	}
	if got := strings.TrimSpace(lfsOK(t, c, "getstripe", "-c", f)); got != "1" {
		t.Errorf("the file's stripe count changed to %s", got)
	}
	// On a directory: a bad size or count changes nothing.
	d := filepath.Join(dir, "d")
	must(t, "mkdir", os.Mkdir(d, 0o755))
	lfsOK(t, c, "setstripe", "-c", "2", "-S", "128K", d)
	before := lfsOK(t, c, "getstripe", "-d", d)
	for _, bad := range []struct {
		name string
		args []string
	}{{"DirectorySize", []string{"-S", "100K"}}, {"DirectoryCount", []string{"-c", "9"}}} {
		t.Run(bad.name, func(t *testing.T) {
			skipKnown(t, "SetstripeRefused/"+bad.name)
			if _, _, code := c.Lfs(ctx, append(append([]string{"setstripe"}, bad.args...), d)...); code == 0 {
				t.Errorf("setstripe %v on a directory of a %d-OST file system accepted", bad.args, c.OSTs())
			}
			if after := lfsOK(t, c, "getstripe", "-d", d); after != before {
				t.Errorf("the directory's default changed:\n%s\nto\n%s", before, after)
				lfsOK(t, c, "setstripe", "-c", "2", "-S", "128K", d)
			}
		})
	}
}

// testLctl runs lctl against the cluster's daemons and clients.
func testLctl(t *testing.T, c *cluster.Cluster) {
	nids := lctlOK(t, c, "list_nids")
	for _, h := range []int{1, 2, 3, 4, 100, 101} {
		if want := c.NID(h); !strings.Contains(nids, want) {
			t.Errorf("list_nids lacks %s:\n%s", want, nids)
		}
	}
	mds := c.NID(2)
	if out := lctlOK(t, c, "ping", mds); !strings.Contains(out, "12345-"+mds) {
		t.Errorf("ping %s:\n%s", mds, out)
	}
	if out, errOut, code := c.Lctl(tctx(t), "ping", c.NID(cluster.HostUnused), "1"); code == 0 {
		t.Errorf("ping of an address nobody answers succeeded: %s", out)
	} else if !strings.Contains(errOut, "ping") {
		t.Errorf("failed ping says %q", errOut)
	}
	if out := lctlOK(t, c, "net", "show"); !strings.Contains(out, "net type: ") || !strings.Contains(out, "nid: "+mds) {
		t.Errorf("net show:\n%s", out)
	}
	dl := lctlOK(t, c, "dl")
	for _, want := range []string{" mgs MGS ", " mdt " + c.FSName() + "-MDT0000 "} {
		if !strings.Contains(dl, want) {
			t.Errorf("dl lacks %q:\n%s", want, dl)
		}
	}
	if n := strings.Count(dl, " UP obdfilter "); n != c.OSTs() {
		t.Errorf("dl lists %d OSTs UP:\n%s", n, dl)
	}
	if n := strings.Count(dl, " UP osp "); n != c.OSTs() {
		t.Errorf("dl lists %d OST proxies UP on the MDS:\n%s", n, dl)
	}
	if out := lctlOK(t, c, "get_param", "obdfilter.*.kbytestotal"); strings.Count(out, "kbytestotal=") != c.OSTs() {
		t.Errorf("get_param obdfilter.*.kbytestotal:\n%s", out)
	}
}
