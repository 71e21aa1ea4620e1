package lfs

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stria-fs/stria/layout"
)

// FuzzGetstripe feeds arbitrary bytes as a file's and a directory's
// layout xattr: getstripe never panics, whatever the client returns, in
// any output format.
func FuzzGetstripe(f *testing.F) {
	for _, l := range []*layout.Layout{layoutPlain(f), layoutPFL(f), layout.Plain(0, 0, -1, "p")} {
		b, err := layout.Encode(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := newFakeFS(t)
		fs.mkdir("/mnt/fs/d")
		fs.file(t, "/mnt/fs/f", nil, fidOf(1))
		fs.nodes["/mnt/fs/f"].xattrs[XattrLOV] = b
		fs.nodes["/mnt/fs/d"].xattrs[XattrLOV] = b
		fs.nodes["/mnt/fs"].xattrs[XattrLOV] = b
		for _, args := range [][]string{{}, {"-v"}, {"-y"}, {"-c"}, {"-S", "-i"}, {"-q"}, {"-R"}} {
			run(t, fs, append(append([]string{"getstripe"}, args...), "/mnt/fs/f", "/mnt/fs/d")...)
		}
	})
}

// FuzzDfReply feeds arbitrary df answers from the client.
func FuzzDfReply(f *testing.F) {
	b, _ := json.Marshal(dfTargets())
	f.Add(string(b))
	f.Add(`[{"uuid":"x","kind":"OST","index":0,"active":true,"statfs":{"Blocks":1,"BFree":5,"BSize":4294967295}}]`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, reply string) {
		fs := newFakeFS(t)
		fs.control = func(string, []string) (string, error) { return reply, nil }
		for _, args := range [][]string{{"df"}, {"df", "-h"}, {"df", "-H", "-i", "-v"}} {
			run(t, fs, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if ts, err := targetsOf(ctx, &fakeClient{f: fs}); err == nil {
			for _, x := range ts {
				if x.Kind != "MDT" && x.Kind != "OST" {
					t.Fatalf("accepted kind %q", x.Kind)
				}
			}
		}
	})
}

// FuzzLinkXattr feeds arbitrary lustre.link and lustre.fid values.
func FuzzLinkXattr(f *testing.F) {
	f.Add("[0x200000007:0x1:0x0]/f\n[0x200000401:0x9:0x0]/g\n", "[0x200000401:0x1:0x0]")
	f.Add("]/", "[")
	f.Fuzz(func(t *testing.T, link, fid string) {
		fs := newFakeFS(t)
		fs.file(t, "/mnt/fs/f", nil, fidOf(1))
		fs.nodes["/mnt/fs/f"].xattrs[XattrLink] = []byte(link)
		fs.nodes["/mnt/fs/f"].xattrs[XattrFID] = []byte(fid)
		out, _, code := run(t, fs, "path2fid", "--parents", "/mnt/fs/f")
		if code == 0 && (strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "[0x")) {
			t.Fatalf("accepted %q as %q", link, out)
		}
		run(t, fs, "path2fid", "/mnt/fs/f")
	})
}
