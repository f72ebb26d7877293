// External interface lookup (see iface.h).
#include "agent/iface.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "cni/error.h"
#include "cni/files.h"

namespace weft::agent {

namespace {

struct Addr {
  std::string ifname;
  cni::IP ip;
  cni::IPNet net;  // masked
};

std::vector<Addr> ListAddrs() {
  ifaddrs* ifa = nullptr;
  if (getifaddrs(&ifa) != 0) throw cni::Error::Errno(errno, "getifaddrs");
  std::vector<Addr> out;
  for (ifaddrs* p = ifa; p; p = p->ifa_next) {
    if (!p->ifa_addr) continue;
    if (p->ifa_addr->sa_family == AF_INET) {
      uint32_t ip = ntohl(reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr.s_addr);
      uint32_t mask = p->ifa_netmask ? ntohl(reinterpret_cast<sockaddr_in*>(p->ifa_netmask)->sin_addr.s_addr) : ~0u;
      int len = __builtin_popcount(mask);
      out.push_back({p->ifa_name, cni::IP::V4(ip), {cni::IP::V4(ip & mask), len}});
    } else if (p->ifa_addr->sa_family == AF_INET6) {
      const auto* a6 = reinterpret_cast<sockaddr_in6*>(p->ifa_addr);
      cni::IP ip = cni::IP::FromBytes(a6->sin6_addr.s6_addr, 16);
      int len = 128;
      if (p->ifa_netmask) {
        len = 0;
        for (uint8_t b : reinterpret_cast<sockaddr_in6*>(p->ifa_netmask)->sin6_addr.s6_addr) len += __builtin_popcount(b);
      }
      out.push_back({p->ifa_name, ip, cni::IPNet{ip, len}.Masked()});
    }
  }
  freeifaddrs(ifa);
  return out;
}

// A usable underlay address: not loopback, and for IPv6 not link-local (a VXLAN local address
// and a peer's FDB destination need a global one).
bool Usable(const Addr& a) {
  if (a.ip.IsLoopback()) return false;
  if (a.ip.is4()) return true;
  return !(a.ip.data()[0] == 0xfe && (a.ip.data()[1] & 0xc0) == 0x80);
}

// The interface `name` with its first usable address of each enabled family; nullopt when it
// lacks one of them (so the lookup tries the next candidate, as flanneld does).
std::optional<ExtIface> FromName(const std::vector<Addr>& addrs, const std::string& name, const IfaceOptions& o) {
  ExtIface e;
  for (const Addr& a : addrs) {
    if (a.ifname != name || !Usable(a)) continue;
    if (a.ip.is4() && !e.addr.valid()) {
      e.addr = a.ip;
      e.connected = a.net;
    } else if (!a.ip.is4() && !e.addr6.valid()) {
      e.addr6 = a.ip;
    }
  }
  if ((o.ipv4 && !e.addr.valid()) || (o.ipv6 && !e.addr6.valid())) return std::nullopt;
  e.name = name;
  e.index = static_cast<int>(if_nametoindex(name.c_str()));
  cni::UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq req{};
  std::snprintf(req.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (s && ioctl(s.get(), SIOCGIFMTU, &req) == 0) e.mtu = req.ifr_mtu;
  return e;
}

std::optional<ExtIface> FromIp(const std::vector<Addr>& addrs, const cni::IP& ip, const IfaceOptions& o) {
  for (const Addr& a : addrs)
    if (a.ip == ip) return FromName(addrs, a.ifname, o);
  return std::nullopt;
}

std::optional<std::string> DefaultRouteIface() {
  std::ifstream f("/proc/net/route");
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string ifname, dst, gw, flags, refcnt, use, metric, mask;
    ls >> ifname >> dst >> gw >> flags >> refcnt >> use >> metric >> mask;
    if (dst == "00000000" && mask == "00000000") return ifname;
  }
  return std::nullopt;
}

// The interface of the IPv6 default route (::/0 in /proc/net/ipv6_route, not the "lo" of an
// unreachable or prohibit route).
std::optional<std::string> DefaultRouteIface6() {
  std::ifstream f("/proc/net/ipv6_route");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string dst, dst_len, src, src_len, next_hop, metric, refcnt, use, flags, ifname;
    ls >> dst >> dst_len >> src >> src_len >> next_hop >> metric >> refcnt >> use >> flags >> ifname;
    if (dst == std::string(32, '0') && dst_len == "00" && ifname != "lo") return ifname;
  }
  return std::nullopt;
}

// The source address the kernel picks for `dst` (IPv4 or IPv6): a UDP connect, which sends
// nothing. nullopt when there is no route.
std::optional<cni::IP> SourceFor(const cni::IP& dst) {
  const bool v4 = dst.is4();
  cni::UniqueFd s(socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(9);
    std::memcpy(&sa->sin_addr.s_addr, dst.data(), 4);
    len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(9);
    std::memcpy(sa->sin6_addr.s6_addr, dst.data(), 16);
    len = sizeof *sa;
  }
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return std::nullopt;
  len = sizeof ss;
  if (getsockname(s.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  if (v4) return cni::IP::FromBytes(reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr), 4);
  return cni::IP::FromBytes(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr.s6_addr, 16);
}

}  // namespace

ExtIface LookupExtIface(const IfaceOptions& o) {
  auto addrs = ListAddrs();
  std::optional<ExtIface> found;
  for (const auto& i : o.iface) {
    if (auto ip = cni::IP::Parse(i)) found = FromIp(addrs, *ip, o);
    else found = FromName(addrs, i, o);
    if (found) break;
  }
  for (size_t r = 0; !found && r < o.iface_regex.size(); ++r) {
    std::regex re(o.iface_regex[r]);
    for (const Addr& a : addrs)
      if (std::regex_search(a.ip.String(), re) && (found = FromName(addrs, a.ifname, o))) break;
    if (!found)
      for (const Addr& a : addrs)
        if (std::regex_search(a.ifname, re) && (found = FromName(addrs, a.ifname, o))) break;
  }
  if (!found && !o.iface_can_reach.empty()) {
    auto dst = cni::IP::Parse(o.iface_can_reach);
    if (!dst) throw cni::Error(cni::kInvalidEnvironment, "invalid --iface-can-reach " + o.iface_can_reach);
    if (auto src = SourceFor(*dst)) found = FromIp(addrs, *src, o);
  }
  bool any_flag = !o.iface.empty() || !o.iface_regex.empty() || !o.iface_can_reach.empty();
  if (any_flag && !found)
    throw cni::Error(cni::kInvalidEnvironment,
                     "Failed to find interface to use that matches the interfaces and/or regexes provided");
  std::optional<cni::IP> pub, pub6;
  if (!o.public_ip.empty()) {
    pub = cni::IP::Parse(o.public_ip);
    if (!pub || !pub->is4()) throw cni::Error(cni::kInvalidEnvironment, "invalid --public-ip " + o.public_ip);
  }
  if (!o.public_ipv6.empty()) {
    pub6 = cni::IP::Parse(o.public_ipv6);
    if (!pub6 || pub6->is4()) throw cni::Error(cni::kInvalidEnvironment, "invalid --public-ipv6 " + o.public_ipv6);
  }
  if (!found && (o.ipv4 ? pub : pub6)) {
    const std::string& flag = o.ipv4 ? o.public_ip : o.public_ipv6;
    found = FromIp(addrs, *(o.ipv4 ? pub : pub6), o);
    if (!found)
      throw cni::Error(cni::kInvalidEnvironment, std::string(o.ipv4 ? "--public-ip " : "--public-ipv6 ") + flag +
                                                     " is not a local address of an interface with every enabled family");
  }
  if (!found) {
    std::optional<std::string> def = o.ipv4 ? DefaultRouteIface() : DefaultRouteIface6();
    const char* fam = o.ipv4 ? "IPv4" : "IPv6";
    if (!def) throw cni::Error(cni::kInvalidEnvironment, std::string("failed to get default interface: no ") + fam + " default route");
    if (o.ipv4 && o.ipv6) {
      auto def6 = DefaultRouteIface6();
      if (!def6) throw cni::Error(cni::kInvalidEnvironment, "failed to get default v6 interface: no IPv6 default route");
      if (*def6 != *def)
        throw cni::Error(cni::kInvalidEnvironment, "v6 default route interface (" + *def6 +
                                                       ") and v4 default route interface (" + *def + ") are not the same");
    }
    found = FromName(addrs, *def, o);
    if (!found)
      throw cni::Error(cni::kInvalidEnvironment, "default interface " + *def + " lacks an address of an enabled family (" +
                                                     (o.ipv4 && o.ipv6 ? "IPv4 and global IPv6" : o.ipv4 ? "IPv4" : "global IPv6") + ")");
  }
  if (o.ipv4) found->public_ip = pub.value_or(found->addr);
  if (o.ipv6) found->public_ip6 = pub6.value_or(found->addr6);
  return *found;
}

bool IsDirectlyConnected(const cni::IP& dst) {
  for (const Addr& a : ListAddrs())
    if (a.ip.is4() == dst.is4() && a.net.prefix > 0 && a.net.prefix < (dst.is4() ? 32 : 128) && a.net.Contains(dst) &&
        Usable(a))
      return true;
  return false;
}

}  // namespace weft::agent
