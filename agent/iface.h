// External interface selection as flanneld's LookupExtIface: --iface (name or IP, in order),
// --iface-regex (IPs first, then names), --iface-can-reach (the interface of the source address
// the kernel picks for that IPv4 or IPv6 destination), else the interface holding --public-ip, else the
// default-route interface. For IPv6 (EnableIPv6) the same interface must also carry an IPv6
// address, and with neither flag given the v4 and v6 default routes must leave by the same
// interface, as in flanneld (dual stack uses one underlay device). IPv6-only takes the v6 default
// route. Uses getifaddrs, /proc/net/route, /proc/net/ipv6_route and a UDP connect: no netlink.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/ip.h"

namespace weft::agent {

struct ExtIface {
  std::string name;
  int index = 0;
  int mtu = 0;
  cni::IP addr;          // the interface address (VXLAN local address)
  cni::IP public_ip;     // --public-ip or addr
  cni::IPNet connected;  // the interface's connected prefix holding addr (masked)
  cni::IP addr6;         // the interface's first global IPv6 address (EnableIPv6); else invalid
  cni::IP public_ip6;    // --public-ipv6 or addr6
};

struct IfaceOptions {
  std::vector<std::string> iface, iface_regex;
  std::string iface_can_reach, public_ip, public_ipv6;
  bool ipv4 = true, ipv6 = false;  // the families the network config enables
};

/// Throws cni::Error with flanneld's wording when nothing matches.
ExtIface LookupExtIface(const IfaceOptions& o);

/// Whether `dst` is on a directly connected IPv4 or IPv6 prefix of some local interface (the
/// DirectRouting test "route to the peer has no gateway").
bool IsDirectlyConnected(const cni::IP& dst);

}  // namespace weft::agent
