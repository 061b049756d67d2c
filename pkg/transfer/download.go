package transfer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// DownloadOptions configure the client that fetches the URLs WeChat
// answers (a video's video_url).
type DownloadOptions struct {
	// Allow are host:port addresses the client may reach although they are
	// loopback or private: the configured WeChat base (the local simulator
	// serves its video_url itself). See AllowFor. An entry whose host is a
	// name, not an IP address, allows that name and port as requested,
	// whatever it resolves to (AllowFor gives one for wechat.ContainerHost
	// alone); the same address by another name or as an IP is refused.
	Allow []string
	// Timeout bounds a whole download, body included; default 60 s (the
	// request's own deadline also bounds it).
	Timeout time.Duration
	// MaxRedirects bounds the redirects followed, each checked; default 3.
	MaxRedirects int
}

// ErrRefusedAddress is a download the client will not make: a scheme other
// than http(s), or an address that is loopback, private, link-local,
// unique-local, shared (CGNAT), multicast, unspecified or a metadata
// service's, checked at connect time so that DNS cannot send it elsewhere.
var ErrRefusedAddress = errors.New("refused address")

// NewDownloader returns the client that fetches URLs WeChat answers: http
// and https only, no proxy, no private or metadata address (the function's
// role would go with it), at most MaxRedirects redirects, each checked.
func NewDownloader(opts DownloadOptions) *http.Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 3
	}
	allow, names := map[string]bool{}, map[string]bool{}
	for _, a := range opts.Allow {
		if host, _, err := net.SplitHostPort(a); err == nil && net.ParseIP(host) == nil {
			names[a] = true
		} else {
			allow[a] = true
		}
	}
	named := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			if allow[address] {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, address)
			}
			if !public(ap.Addr()) {
				return fmt.Errorf("%w: %s is not a public address", ErrRefusedAddress, ap.Addr())
			}
			return nil
		}}
	return &http.Client{
		Timeout: opts.Timeout,
		Transport: &http.Transport{
			Proxy: nil, // a proxy would make the connection the dialer checks
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if names[addr] { // the configured base by its name, as requested
					return named.DialContext(ctx, network, addr)
				}
				return dialer.DialContext(ctx, network, addr)
			},
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 15 * time.Second,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > opts.MaxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrRefusedAddress, opts.MaxRedirects)
			}
			return checkScheme(req.URL)
		},
	}
}

// AllowFor is the Allow list for a WeChat base URL: its host and port,
// which the downloader may reach even on loopback. A name is allowed only
// when it is wechat.ContainerHost over http, the simulator on the machine
// a `sam local` container runs on; others are checked at connect time.
func AllowFor(base string) []string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := u.Hostname()
	if host == wechat.ContainerHost && u.Scheme == "http" {
		return []string{net.JoinHostPort(host, port)}
	}
	if host == "localhost" {
		return []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{netip.AddrPortFrom(ip.Unmap(), mustPort(port)).String()}
	}
	return nil // a name: public, or resolved and checked at connect time
}

func mustPort(p string) uint16 {
	var n uint16
	fmt.Sscan(p, &n)
	return n
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrRefusedAddress, u.Scheme)
	}
	return nil
}

// refused are the ranges that are not an ordinary host on the internet, or
// that wrap an IPv4 address a gateway would reach for us: shared (CGNAT) and
// protocol space, benchmarking, reserved and broadcast IPv4; NAT64, 6to4
// and Teredo IPv6. Loopback, private, link-local, unique-local, multicast
// and unspecified addresses are refused by netip's own tests.
var refused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
}

// globalIPv6 is IPv6's global unicast space: anything else (site-local,
// IPv4-compatible, unique-local …) is refused.
var globalIPv6 = netip.MustParsePrefix("2000::/3")

// public reports whether ip is an ordinary address on the public internet.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	if ip.Is6() && !globalIPv6.Contains(ip) {
		return false
	}
	for _, p := range refused {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// get fetches raw with the downloader, after checking its scheme.
func (s *Service) get(ctx context.Context, raw string) (*http.Response, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed URL", ErrRefusedAddress)
	}
	if err := checkScheme(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefusedAddress, err)
	}
	return s.downloads.Do(req)
}
