package netfault_test

import (
	"context"
	"strconv"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/netfault"
)

// harness runs lolnd NIs wrapped by netfault with rules that match nothing
// they see: the wrapper must keep every promise of the LND it wraps.
type harness struct{ lnd lnet.LND }

func (h *harness) NID(i int) lnet.NID { return lnet.LoNID(uint32(i)) }

func (h *harness) Start(t *testing.T, i int, host lnet.Host) lnet.NI {
	t.Helper()
	ni, err := h.lnd.Startup(context.Background(), lnet.NIConfig{
		Net: lnet.Net{Type: lnet.LoLND}, Interfaces: []string{strconv.Itoa(i)}, Logger: zaptest.NewLogger(t),
	}, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ni.Close() })
	return ni
}

func TestConformance(t *testing.T) {
	rules := netfault.NewRules(1)
	rules.Add(netfault.Rule{Match: netfault.Match{Portals: []uint32{lnet.MaxPortal + 1}}})
	rules.Partition(lnet.LoNID(1000), lnet.LoNID(1001))
	lndtest.Run(t, &harness{lnd: netfault.Wrap(lolnd.New(lolnd.NewFabric()), rules)})
	if s := rules.Stats(); s.Dropped != 0 || s.Partitioned != 0 {
		t.Errorf("rules acted: %+v", s)
	}
}
