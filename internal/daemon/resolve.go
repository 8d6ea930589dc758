// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"gontp/internal/engine"
	"gontp/peer"
)

// Resolver looks up the addresses of a host name. *net.Resolver (net.DefaultResolver) is
// one; tests give their own. network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// namedServer is a `server` or `peer` line whose address is a name to resolve.
type namedServer struct {
	pos    string // file:line:col, for messages
	name   string
	family int // 0, 4 or 6
	peer   peer.Config
}

// network returns the resolver network for an address family choice: the line's own
// (-4/-6) wins over the command line's (ntpd -4/-6).
func network(lineFamily, cmdFamily int) string {
	f := lineFamily
	if f == 0 {
		f = cmdFamily
	}
	switch f {
	case 4:
		return "ip4"
	case 6:
		return "ip6"
	}
	return "ip"
}

// Backoff of the retries of a name that does not resolve: the first retry after
// resolveRetryFirst, then twice as long each time up to resolveRetryMax, with one log line
// per failed attempt. Classic ntpd 4.2.8p15 retries only temporary failures (EAI_AGAIN) and
// gives up for good on a name the DNS says does not exist, so a server line written before
// its DNS record leaves classic without that server until a restart; gontp keeps trying,
// because a name that does not resolve at boot (no network yet, DNS not up) is the common
// case and the line is the operator's clear intent.
const (
	resolveRetryFirst = 2 * time.Second
	resolveRetryMax   = time.Hour
	resolveTimeout    = 30 * time.Second
)

// resolvePool answers an engine's ResolveRequest in the background.
func (d *Daemon) resolvePool(ctx context.Context, req engine.ResolveRequest) {
	addrs, err := d.lookup(ctx, network(req.Family, d.opts.Family), req.Name)
	d.post(func(e *engine.Engine, now time.Time) []engine.Send {
		return e.PoolResolved(req.ID, addrs, err, now)
	})
}

// lookup resolves name, with a timeout; a literal address needs no resolver.
func (d *Daemon) lookup(ctx context.Context, network, name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := d.resolver.LookupNetIP(ctx, network, name)
	if err != nil {
		return nil, err
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	if len(addrs) == 0 {
		return nil, errors.New("no address")
	}
	return addrs, nil
}

// post hands f to the engine goroutine, which alone touches the engine. It never blocks the
// caller for long: the queue is large and the engine drains it promptly; if the daemon is
// stopping, f is dropped.
func (d *Daemon) post(f engineCall) {
	select {
	case d.calls <- f:
	case <-d.stopping:
	}
}

// engineCall is work for the engine goroutine; it returns packets to send.
type engineCall func(e *engine.Engine, now time.Time) []engine.Send

var _ Resolver = net.DefaultResolver
