package ibverbs

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

func TestDeviceFor(t *testing.T) {
	ib0 := netip.MustParseAddr("192.168.7.1")
	rdmaFor := func(netdev string) (string, error) {
		if netdev == "ib0" {
			return "mlx5_0", nil
		}
		return "", errors.New("unknown device type")
	}
	netdevOf := func(a netip.Addr) (string, error) {
		if a == ib0 {
			return "ib0", nil
		}
		return "", errors.New("no interface")
	}
	addrOf := func(s string) (netip.Addr, error) {
		if s == "ib0" || s == ib0.String() {
			return ib0, nil
		}
		if s == "eth0" {
			return netip.MustParseAddr("10.1.1.1"), nil
		}
		return netip.Addr{}, errors.New("no such interface")
	}
	for _, in := range []string{"ib0", "192.168.7.1"} {
		dev, a, err := deviceFor(in, rdmaFor, netdevOf, addrOf)
		if err != nil || dev != "mlx5_0" || a != ib0 {
			t.Errorf("%s: %q %v %v", in, dev, a, err)
		}
	}
	for _, in := range []string{"eth0", "ib7", "10.9.9.9"} {
		if _, _, err := deviceFor(in, rdmaFor, netdevOf, addrOf); !errors.Is(err, verbs.ErrNoDevice) {
			t.Errorf("%s: %v, want ErrNoDevice", in, err)
		}
	}
}

// TestNoInterface runs the real look-ups: an interface that does not exist
// has no RDMA device.
func TestNoInterface(t *testing.T) {
	if _, _, err := DeviceForInterface("stria-no-such-if0"); !errors.Is(err, verbs.ErrNoDevice) {
		t.Fatalf("got %v, want ErrNoDevice", err)
	}
}
