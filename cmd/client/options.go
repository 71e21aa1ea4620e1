package main

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/obd"
)

// errBadOption: a mount option that is unknown, malformed or unsupported.
var errBadOption = errors.New("bad mount option")

// DefaultMountTimeout bounds a mount: an MGS that does not answer, or
// targets that do not connect, fail the mount after it.
const DefaultMountTimeout = 30 * time.Second

// mountOptions is everything a mount is told, by -o options or flags.
type mountOptions struct {
	Networks  string        // networks=: this client's LNet networks
	Port      int           // port=: every node's acceptor port
	Timeout   time.Duration // mount_timeout=
	CtlDir    string        // ctl_dir=
	LogFile   string        // log_file=
	LogLevel  string        // log_level=
	LogFormat string        // log_format=
	PIDFile   string        // pid_file=
	Pprof     string        // pprof=: loopback HOST:PORT for net/http/pprof
	Debug     bool          // fuse_debug: log every FUSE request
}

func defaultMountOptions() mountOptions {
	return mountOptions{Networks: "tcp0", Port: socklnd.DefaultPort, Timeout: DefaultMountTimeout,
		CtlDir: obd.ControlDir(), LogLevel: "info", LogFormat: "json"}
}

// ignoredOptions are generic mount(8) and Lustre client options that
// change nothing here; fstab entries carry them.
var ignoredOptions = map[string]bool{
	"rw": true, "defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true, "users": true,
	"owner": true, "group": true, "_netdev": true, "nofail": true, "async": true, "atime": true,
	"noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "diratime": true,
	"nodiratime": true, "suid": true, "nosuid": true, "dev": true, "nodev": true, "exec": true,
	"noexec": true, "flock": true, "localflock": true, "noflock": true, "user_xattr": true,
	"nouser_xattr": true, "lazystatfs": true, "nolazystatfs": true, "user_fid2path": true,
	"nouser_fid2path": true, "verbose": true, "noverbose": true, "context": true, "noiversion": true,
}

// parse applies a comma-separated -o string to o. sloppy ignores unknown
// options, as mount -s asks.
func (o *mountOptions) parse(s string, sloppy bool) error {
	if s == "" {
		return nil
	}
	// networks= holds commas inside parentheses: split on the others.
	var items []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, s[start:])
	prevNetworks := false
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		k, v, hasV := strings.Cut(it, "=")
		// networks=o2ib0(ib0),tcp0(eth0): the networks after the first
		// are items of their own; give them back to networks=.
		if prevNetworks && !hasV && !ignoredOptions[k] && k != "fuse_debug" && k != "ro" {
			if _, err := lnet.ParseNetworks(k); err == nil {
				o.Networks += "," + k
				continue
			}
		}
		prevNetworks = k == "networks"
		if err := o.set(k, v, hasV); err != nil {
			if sloppy && errors.Is(err, errUnknown) {
				continue
			}
			return err
		}
	}
	return nil
}

var errUnknown = fmt.Errorf("%w: unknown", errBadOption)

func (o *mountOptions) set(k, v string, hasV bool) error {
	need := func() error {
		if !hasV || v == "" {
			return fmt.Errorf("%w: %s needs a value (%s=...)", errBadOption, k, k)
		}
		return nil
	}
	switch {
	case k == "networks":
		if err := need(); err != nil {
			return err
		}
		o.Networks = v
	case k == "port":
		if err := need(); err != nil {
			return err
		}
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%w: port=%q: want 0..65535", errBadOption, v)
		}
		o.Port = p
	case k == "mount_timeout":
		if err := need(); err != nil {
			return err
		}
		d, err := parseDuration(v)
		if err != nil {
			return fmt.Errorf("%w: mount_timeout=%q: want seconds or a duration like 30s", errBadOption, v)
		}
		o.Timeout = d
	case k == "ctl_dir":
		if err := need(); err != nil {
			return err
		}
		o.CtlDir = v
	case k == "log_file":
		if err := need(); err != nil {
			return err
		}
		o.LogFile = v
	case k == "log_level":
		if err := need(); err != nil {
			return err
		}
		o.LogLevel = v
	case k == "log_format":
		if err := need(); err != nil {
			return err
		}
		o.LogFormat = v
	case k == "pid_file":
		if err := need(); err != nil {
			return err
		}
		o.PIDFile = v
	case k == "pprof":
		if err := need(); err != nil {
			return err
		}
		o.Pprof = v
	case k == "fuse_debug" && !hasV:
		o.Debug = true
	case k == "ro":
		return fmt.Errorf("%w: read-only mounts (ro) are not supported", errBadOption)
	case ignoredOptions[k] || strings.HasPrefix(k, "x-") || k == "comment":
	default:
		return fmt.Errorf("%w %q", errUnknown, k)
	}
	return nil
}

// parseDuration reads "30", "30s", "1m".
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("not positive")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration")
	}
	return d, nil
}

// String renders o as an -o string that parse reads back into o.
func (o mountOptions) String() string {
	kv := map[string]string{
		"networks":      o.Networks,
		"port":          strconv.Itoa(o.Port),
		"mount_timeout": o.Timeout.String(),
		"ctl_dir":       o.CtlDir,
		"log_file":      o.LogFile,
		"log_level":     o.LogLevel,
		"log_format":    o.LogFormat,
		"pid_file":      o.PIDFile,
		"pprof":         o.Pprof,
	}
	var parts []string
	for k, v := range kv {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	if o.Debug {
		parts = append(parts, "fuse_debug")
	}
	return strings.Join(parts, ",")
}
