package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// TestSmoke starts the topology (two OSSs with two OSTs each),
// writes a file striped over every OST and reads it back.
func TestSmoke(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) { testSmoke(t, cluster.New(t, cluster.Options{Runner: r})) })
	}
}

func testSmoke(t *testing.T, c *cluster.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := filepath.Join(c.Mount(0), "f")
	if out, errOut, code := c.Lfs(ctx, "setstripe", "-c", "4", "-S", "64K", f); code != 0 {
		t.Fatalf("lfs setstripe: exit %d: %s%s", code, out, errOut)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB over 4 stripes of 64 KiB
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes back, not what was written", len(got))
	}
	out, errOut, code := c.Lfs(ctx, "getstripe", "-c", f)
	if code != 0 || strings.TrimSpace(out) != "4" {
		t.Errorf("lfs getstripe -c: %q %q exit %d", out, errOut, code)
	}
}
