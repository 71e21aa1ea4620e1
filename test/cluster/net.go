package cluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Host numbers of the cluster's nodes on its subnet.
const (
	hostMGS    = 1
	hostMDS    = 2
	hostOSS    = 3   // OSS i is hostOSS+i
	hostClient = 100 // client i is hostClient+i
	// HostUnused is a host number no node of a cluster uses: an address
	// where nothing answers.
	HostUnused = 250
)

// pickNetwork chooses a random loopback subnet 127.X.Y.0/24 (X != 0, so
// never make up's 127.0.0.x) and a TCP port free on every address the
// cluster will use.
func pickNetwork(hosts []int) (prefix string, port int, err error) {
	for range 50 {
		prefix = fmt.Sprintf("127.%d.%d", 1+rand.IntN(254), rand.IntN(256))
		port, err = freePort(prefix, hosts)
		if err == nil {
			return prefix, port, nil
		}
	}
	return "", 0, fmt.Errorf("no free loopback subnet and port: %w", err)
}

// freePort asks the kernel for a free port on the first address and checks
// that it is free on the others too.
func freePort(prefix string, hosts []int) (int, error) {
	first, err := net.Listen("tcp", addr(prefix, hosts[0], 0))
	if err != nil {
		return 0, err
	}
	port := first.Addr().(*net.TCPAddr).Port
	ls := []net.Listener{first}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, h := range hosts[1:] {
		l, err := net.Listen("tcp", addr(prefix, h, port))
		if err != nil {
			return 0, err
		}
		ls = append(ls, l)
	}
	return port, nil
}

func addr(prefix string, host, port int) string {
	return net.JoinHostPort(ip(prefix, host), strconv.Itoa(port))
}

func ip(prefix string, host int) string { return prefix + "." + strconv.Itoa(host) }
