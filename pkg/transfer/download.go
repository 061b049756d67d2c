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
)

// DownloadOptions configure the client that fetches the URLs WeChat
// answers (a video's video_url).
type DownloadOptions struct {
	// Allow are host:port addresses the client may reach although they are
	// loopback or private: the configured WeChat base (the local simulator
	// serves its video_url itself). See AllowFor.
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
	allow := map[string]bool{}
	for _, a := range opts.Allow {
		allow[a] = true
	}
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
			Proxy:                 nil, // a proxy would make the connection the dialer checks
			DialContext:           dialer.DialContext,
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
// which the downloader may reach even on loopback.
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

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT, and some clouds' metadata

// public reports whether ip is an address on the public internet.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() &&
		!ip.IsLinkLocalUnicast() && !sharedSpace.Contains(ip) &&
		!(ip.Is4() && ip.As4()[0] == 0)
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
