package gatehouse

import "net/netip"

// ClientKey is the part of a client address that per-address limits and
// throttles count: an IPv4 address itself, and an IPv6 address's /64,
// since one IPv6 client (a home, a phone, a server) is given a whole /64
// and could otherwise take a fresh address for every request. A text that
// is not an address is its own key.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
