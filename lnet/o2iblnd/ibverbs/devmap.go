package ibverbs

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/Mellanox/rdmamap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// DeviceForInterface returns the RDMA device behind the network interface
// ifname (a name such as "ib0", or one of its addresses) and the
// interface's address. It fails with an error wrapping verbs.ErrNoDevice
// when the interface does not exist or has no RDMA device.
func DeviceForInterface(ifname string) (string, netip.Addr, error) {
	return deviceFor(ifname, rdmamap.GetRdmaDeviceForNetdevice, netdevWithAddr, lnet.ResolveInterface)
}

// deviceFor is DeviceForInterface with its look-ups passed in.
func deviceFor(ifname string,
	rdmaFor func(netdev string) (string, error),
	netdevOf func(netip.Addr) (string, error),
	addrOf func(string) (netip.Addr, error),
) (string, netip.Addr, error) {
	netdev := ifname
	if a, err := netip.ParseAddr(ifname); err == nil {
		if netdev, err = netdevOf(a.Unmap()); err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: %v", verbs.ErrNoDevice, err)
		}
	}
	addr, err := addrOf(ifname)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("%w: %v", verbs.ErrNoDevice, err)
	}
	dev, err := rdmaFor(netdev)
	if err != nil || dev == "" {
		return "", netip.Addr{}, fmt.Errorf("%w behind interface %s: %v", verbs.ErrNoDevice, netdev, err)
	}
	return dev, addr, nil
}

// netdevWithAddr returns the name of the interface that has address a.
func netdevWithAddr(a netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, x := range addrs {
			if ipn, ok := x.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap() == a {
					return ifi.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("no interface has address %v", a)
}
