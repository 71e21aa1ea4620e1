package client

import (
	"context"
	"encoding/json"
	"errors"

	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/stria-fs/stria/wire"
)

// Control commands the FS answers on its node's control socket (the
// contract with tools/lfs).
const (
	CmdMount    = "mount"    // the absolute mount point
	CmdDf       = "df"       // JSON array of Target, MDTs then OSTs
	CmdFid2Path = "fid2path" // FID [LINKNO] -> paths relative to the mount root, one per line
)

// Target is one entry of the df answer: a target's usage, with Go's field
// names for the StatFS.
type Target struct {
	UUID   string      `json:"uuid"`
	Kind   string      `json:"kind"` // "MDT" or "OST"
	Index  int         `json:"index"`
	Active bool        `json:"active"`
	StatFS wire.StatFS `json:"statfs"`
}

// statfsAll asks every MDT and OST for its usage, in parallel, each for at
// most Config.StatFSTimeout; one that does not answer is inactive.
func (fs *FS) statfsAll(ctx context.Context) []Target {
	type job struct {
		t      Target
		statfs func(context.Context) (wire.StatFS, error)
	}
	var jobs []job
	for _, m := range fs.lmv.All() {
		jobs = append(jobs, job{Target{UUID: m.Target() + "_UUID", Kind: "MDT", Index: int(m.Index())}, m.Statfs})
	}
	for _, o := range fs.allOSCs() {
		jobs = append(jobs, job{Target{UUID: o.Target() + "_UUID", Kind: "OST", Index: int(o.Index())}, o.StatFS})
	}
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, fs.cfg.StatFSTimeout)
			defer cancel()
			s, err := jobs[i].statfs(c)
			jobs[i].t.Active, jobs[i].t.StatFS = err == nil, s
		}()
	}
	wg.Wait()
	out := make([]Target, len(jobs))
	for i, j := range jobs {
		out[i] = j.t
	}
	return out
}

// paths returns the paths of fid relative to the mounted directory: every
// link's, or only link linkNo's (linkNo >= 0), by MDS_GET_INFO fid2path.
// A path outside the mounted subdirectory is left out.
func (fs *FS) paths(ctx context.Context, fid wire.FID, linkNo int) ([]string, error) {
	m, err := fs.lmv.Route(fid)
	if err != nil {
		return nil, err
	}
	prefix := strings.Join(splitPath(fs.cfg.SubDir), "/")
	var out []string
	next := uint32(max(linkNo, 0))
	for range 1 << 16 {
		r, err := m.Fid2path(ctx, fid, next)
		if err != nil {
			if len(out) > 0 && linkNo < 0 {
				break
			}
			return nil, err
		}
		p := strings.TrimPrefix(r.Path, "/")
		if prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/") {
			out = append(out, strings.TrimPrefix(strings.TrimPrefix(p, prefix), "/"))
		}
		if linkNo >= 0 || r.NextLinkNo <= next {
			break
		}
		next = r.NextLinkNo
	}
	return out, nil
}

// cmdMount answers the mount point.
func (fs *FS) cmdMount(context.Context, []string) (string, error) {
	if _, err := fs.begin(context.Background()); err != nil {
		return "", err
	}
	return fs.cfg.MountPoint, nil
}

// cmdDf answers every target's usage as JSON.
func (fs *FS) cmdDf(ctx context.Context, _ []string) (string, error) {
	ctx, err := fs.begin(ctx)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(fs.statfsAll(ctx))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// cmdFid2Path answers "FID [LINKNO]" with one path per line; errors read
// as strerror ("No such file or directory").
func (fs *FS) cmdFid2Path(ctx context.Context, args []string) (string, error) {
	if len(args) < 1 || len(args) > 2 {
		return "", textError{syscall.EINVAL}
	}
	fid, err := wire.ParseFID(args[0])
	if err != nil {
		return "", textError{syscall.EINVAL}
	}
	link := -1
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 {
			return "", textError{syscall.EINVAL}
		}
		link = n
	}
	ctx, err = fs.begin(ctx)
	if err != nil {
		return "", err
	}
	paths, err := fs.paths(ctx, fid, link)
	if err != nil {
		return "", textError{errnoOf(err)}
	}
	if len(paths) == 0 {
		return "", textError{syscall.ENOENT}
	}
	return strings.Join(paths, "\n") + "\n", nil
}

// errnoOf returns the errno err wraps, EIO if none.
func errnoOf(err error) syscall.Errno {
	var n syscall.Errno
	if errors.As(err, &n) {
		return n
	}
	return syscall.EIO
}
