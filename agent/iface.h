// External interface selection as flanneld's LookupExtIface: --iface (name or IP, in order),
// --iface-regex (IPs first, then names), --iface-can-reach (the interface of the source address
// the kernel picks for that destination), else the interface holding --public-ip, else the
// default-route interface. Uses getifaddrs, /proc/net/route and a UDP connect: no netlink.
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
};

struct IfaceOptions {
  std::vector<std::string> iface, iface_regex;
  std::string iface_can_reach, public_ip;
};

/// Throws cni::Error with flanneld's wording when nothing matches.
ExtIface LookupExtIface(const IfaceOptions& o);

/// Whether `dst` is on a directly connected IPv4 prefix of some local interface (the
/// DirectRouting test "route to the peer has no gateway").
bool IsDirectlyConnected(const cni::IP& dst);

}  // namespace weft::agent
