package lnet

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// NetConfig is one network of a networks string: "tcp0(eth0)" or
// "tcp1(127.0.0.2)" or "o2ib0(ib0)" or "lo".
type NetConfig struct {
	Net        Net
	Interfaces []string
}

func (c NetConfig) String() string {
	if len(c.Interfaces) == 0 {
		return c.Net.String()
	}
	return c.Net.String() + "(" + strings.Join(c.Interfaces, ",") + ")"
}

// ParseNetworks parses Lustre's networks= syntax: comma-separated networks,
// each with an optional parenthesised comma-separated interface list, e.g.
// "o2ib0(ib0),tcp0(eth0,eth1)". A network may appear only once.
func ParseNetworks(s string) ([]NetConfig, error) {
	var out []NetConfig
	seen := map[Net]bool{}
	rest := strings.TrimSpace(s)
	if rest == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadNetworks)
	}
	for rest != "" {
		var item string
		depth, cut := 0, -1
		for i, c := range rest {
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			case ',':
				if depth == 0 && cut < 0 {
					cut = i
				}
			}
			if depth < 0 || depth > 1 {
				return nil, fmt.Errorf("%w: %q: unbalanced parentheses", ErrBadNetworks, s)
			}
		}
		if depth != 0 {
			return nil, fmt.Errorf("%w: %q: unbalanced parentheses", ErrBadNetworks, s)
		}
		if cut < 0 {
			item, rest = rest, ""
		} else {
			item, rest = rest[:cut], strings.TrimSpace(rest[cut+1:])
			if rest == "" {
				return nil, fmt.Errorf("%w: %q: trailing comma", ErrBadNetworks, s)
			}
		}
		item = strings.TrimSpace(item)
		name, ifs := item, ""
		if open := strings.IndexByte(item, '('); open >= 0 {
			if !strings.HasSuffix(item, ")") {
				return nil, fmt.Errorf("%w: %q: text after ')'", ErrBadNetworks, item)
			}
			name, ifs = strings.TrimSpace(item[:open]), item[open+1:len(item)-1]
		}
		n, err := ParseNet(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadNetworks, err)
		}
		if seen[n] {
			return nil, fmt.Errorf("%w: network %v given twice", ErrBadNetworks, n)
		}
		seen[n] = true
		c := NetConfig{Net: n}
		if ifs != "" {
			for _, f := range strings.Split(ifs, ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					return nil, fmt.Errorf("%w: %q: empty interface name", ErrBadNetworks, item)
				}
				c.Interfaces = append(c.Interfaces, f)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// ResolveInterface turns an interface name or an address into the IP address
// an NI on it uses: an address is taken as it is; a name gives the
// interface's first IPv4 address (IPv6 if it has none).
func ResolveInterface(name string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Unmap(), nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: interface %q: %w", ErrBadNetworks, name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: interface %q: %w", ErrBadNetworks, name, err)
	}
	var v6 netip.Addr
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() {
			return ip, nil
		}
		if !v6.IsValid() && !ip.IsLinkLocalUnicast() {
			v6 = ip
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.Addr{}, fmt.Errorf("%w: interface %q has no address", ErrBadNetworks, name)
}
