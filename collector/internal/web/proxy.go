package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address of the client a request comes from, without
// the port: the connection's peer, unless the peer is one of the trusted
// proxies (Options.TrustedProxies) and the request carries
// X-Forwarded-For. Then the header is read from the right, where the
// nearest proxy appended the address it saw, skipping the trusted
// proxies; the first address that is not one is the client. Addresses
// further left were written by the client or by proxies not trusted, and
// are never used: a client cannot choose its address by sending the
// header itself. When every address in the header is a trusted proxy,
// the leftmost is the client.
func (h *Handler) clientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !h.trusted(addr) {
		return peer
	}
	hops := forwardedFor(r.Header)
	client := addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// A trusted proxy passed on something that is not an
			// address: the last good hop is as far as the header can
			// be believed.
			break
		}
		client = a
		if !h.trusted(a) {
			break
		}
	}
	return client.String()
}

// trusted reports whether an address is one of the trusted proxies.
func (h *Handler) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.opt.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor returns the addresses of every X-Forwarded-For header, in
// order, the leftmost first.
func forwardedFor(hd http.Header) []string {
	var hops []string
	for _, v := range hd.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// parseHop reads one X-Forwarded-For address: an IPv4 or IPv6 address,
// with or without a port (IPv6 with a port in brackets).
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
