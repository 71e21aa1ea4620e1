package lolnd_test

import (
	"context"
	"strconv"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
	"github.com/stria-fs/stria/lnet/lolnd"
)

// harness runs lolnd NIs on one fabric; node i is i@lo.
type harness struct{ lnd *lolnd.LND }

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
	lndtest.Run(t, &harness{lnd: lolnd.New(lolnd.NewFabric())})
}
