package mdt

import (
	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/mdt/osp"
)

// claimObjects tells the OST proxies that a create replayed during
// recovery uses the objects of layout blob, so that the cleanup at the
// end of recovery keeps them. An OST the MDT does not know yet has no
// proxy whose cleanup could take them.
func (s *Server) claimObjects(blob []byte) {
	if len(blob) == 0 {
		return
	}
	l, err := layout.Decode(blob)
	if err != nil {
		s.log.Error("replayed create has an unreadable layout; its objects are not claimed", zap.Error(err))
		return
	}
	for i := range l.Components {
		for _, o := range l.Components[i].Stripe.Objects {
			if d := s.OSP(o.OSTIndex); d != nil {
				d.Claim(o.FID)
			}
		}
	}
}

// endOSPRecovery tells every OST proxy that the recovery window closed:
// the objects their previous run precreated and no replay claimed are
// orphans. A proxy added from now on starts out of recovery (addOST reads
// Recovering under s.mu, which is held here while listing).
func (s *Server) endOSPRecovery() {
	s.mu.Lock()
	devs := make([]*osp.Device, 0, len(s.osps))
	for _, d := range s.osps {
		devs = append(devs, d)
	}
	s.mu.Unlock()
	for _, d := range devs {
		d.EndRecovery()
	}
}
