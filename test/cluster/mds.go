package cluster

import (
	"context"
	"io"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mdt"
	"github.com/stria-fs/stria/obd"
)

// StopMDS stops the MDS (SIGTERM and a clean exit; InProcess: the server
// closes, then its network) under mounted clients: their MDC imports
// reconnect once StartMDS brings it back, and replay their open files.
func (c *Cluster) StopMDS() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ip != nil {
		return c.ip.stop(c.ip.mds, false)
	}
	return c.mds.stop(stopTimeout)
}

// StartMDS starts the MDS again after StopMDS and waits until it serves
// and can allocate objects on every OST.
func (c *Cluster) StartMDS() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ip != nil {
		if err := c.ip.startMDS(); err != nil {
			return err
		}
		return c.waitMDSOSTs(context.Background())
	}
	return c.restart(c.mds, "the mds", c.mdsSock())
}

// startMDS starts the in-process MDS.
func (ip *inproc) startMDS() error {
	c := ip.c
	return ip.start(ip.mds, hostMDS, "mds-"+c.o.FSName+"-MDT0000", func(ctx context.Context, ln *lnet.LNet, node *obd.Node, log *zap.Logger) (io.Closer, error) {
		return mdt.Start(ctx, mdt.Config{Dir: filepath.Join(c.dir, "mdt0"), FSName: c.o.FSName, LNet: ln, Node: node,
			Logger: log})
	})
}
