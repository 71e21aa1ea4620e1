package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stria-client",
		Short:         "Stria client: mount a Stria file system through FUSE",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newMount(), newUmount())
	return root
}

func newMount() *cobra.Command {
	var (
		optStr     string
		foreground bool
		sloppy     bool
		flagOpts   = defaultMountOptions()
	)
	c := &cobra.Command{
		Use:   "mount [-o OPTIONS] MGSNID[:MGSNID...]:/FSNAME[/SUBDIR] MOUNTPOINT",
		Short: "Mount a Stria file system (as mount -t stria)",
		Long: `Mount a Stria file system. Without --foreground the client runs in the
background in a session of its own and the command returns once the file
system is mounted, or fails with the reason, as mount(8) does.

Options (-o, comma-separated; the flags of the same names win):
  networks=NETS       this client's LNet networks (default tcp0: the first
                      non-loopback interface)
  port=PORT           every node's acceptor port (default 988)
  mount_timeout=DUR   give up after this long (default 30s)
  ctl_dir=DIR         control socket directory (lfs, lctl)
  log_file=PATH, log_level=LEVEL, log_format=json|console
  pid_file=PATH       write the client's process id here once mounted
  pprof=HOST:PORT     serve Go profiles (net/http/pprof) on this loopback
                      address (off by default)
  fuse_debug          log every FUSE request`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			opts := defaultMountOptions()
			if err := opts.parse(optStr, sloppy); err != nil {
				return err
			}
			applyFlags(c, &opts, flagOpts)
			r := mountRequest{spec: args[0], dir: args[1], opts: opts}
			if err := r.check(); err != nil {
				return err
			}
			if foreground {
				return serveMount(c.Context(), r, c.ErrOrStderr())
			}
			return background(c.Context(), r)
		},
	}
	f := c.Flags()
	f.StringVarP(&optStr, "options", "o", "", "mount options, comma-separated")
	f.BoolVar(&foreground, "foreground", false, "serve the mount in this process until it is unmounted")
	f.BoolVarP(&sloppy, "sloppy", "s", false, "ignore unknown mount options")
	f.StringVar(&flagOpts.Networks, "networks", flagOpts.Networks, `this client's LNet networks ("tcp0(192.168.1.5)")`)
	f.IntVar(&flagOpts.Port, "port", flagOpts.Port, "every node's acceptor port")
	f.DurationVar(&flagOpts.Timeout, "timeout", flagOpts.Timeout, "mount timeout")
	f.StringVar(&flagOpts.CtlDir, "ctl-dir", flagOpts.CtlDir, "control socket directory (env STRIA_CTL_DIR)")
	f.StringVar(&flagOpts.LogFile, "log-file", "", "append the client's log to this file")
	f.StringVar(&flagOpts.LogLevel, "log-level", flagOpts.LogLevel, "log level: debug, info, warn or error")
	f.StringVar(&flagOpts.LogFormat, "log-format", flagOpts.LogFormat, "log encoding: json or console")
	f.StringVar(&flagOpts.PIDFile, "pid-file", "", "write the client's process id here once mounted")
	f.StringVar(&flagOpts.Pprof, "pprof", "", "serve Go profiles (net/http/pprof) on this loopback HOST:PORT; off when empty")
	return c
}

// applyFlags copies the flags the user set over the -o options.
func applyFlags(c *cobra.Command, o *mountOptions, f mountOptions) {
	set := func(name string) bool { return c.Flags().Changed(name) }
	if set("networks") {
		o.Networks = f.Networks
	}
	if set("port") {
		o.Port = f.Port
	}
	if set("timeout") {
		o.Timeout = f.Timeout
	}
	if set("ctl-dir") {
		o.CtlDir = f.CtlDir
	}
	if set("log-file") {
		o.LogFile = f.LogFile
	}
	if set("log-level") {
		o.LogLevel = f.LogLevel
	}
	if set("log-format") {
		o.LogFormat = f.LogFormat
	}
	if set("pid-file") {
		o.PIDFile = f.PIDFile
	}
	if set("pprof") {
		o.Pprof = f.Pprof
	}
}

func newUmount() *cobra.Command {
	var (
		lazy    bool
		ctlDir  string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "umount [-l] MOUNTPOINT",
		Short: "Unmount a Stria file system and wait for its client to write back and exit",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if timeout <= 0 {
				return fmt.Errorf("umount: --timeout must be positive")
			}
			return umount(c.Context(), args[0], ctlDir, lazy, timeout)
		},
	}
	c.Flags().BoolVarP(&lazy, "lazy", "l", false, "detach a busy mount now; it goes when its last user does")
	c.Flags().StringVar(&ctlDir, "ctl-dir", defaultMountOptions().CtlDir, "control socket directory (env STRIA_CTL_DIR)")
	c.Flags().DurationVar(&timeout, "timeout", 2*closeTimeout, "how long to wait for the client to exit")
	return c
}
