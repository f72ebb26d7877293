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
    if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET) continue;
    uint32_t ip = ntohl(reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr.s_addr);
    uint32_t mask = p->ifa_netmask ? ntohl(reinterpret_cast<sockaddr_in*>(p->ifa_netmask)->sin_addr.s_addr) : ~0u;
    int len = __builtin_popcount(mask);
    out.push_back({p->ifa_name, cni::IP::V4(ip), {cni::IP::V4(ip & mask), len}});
  }
  freeifaddrs(ifa);
  return out;
}

std::optional<ExtIface> FromName(const std::vector<Addr>& addrs, const std::string& name) {
  for (const Addr& a : addrs) {
    if (a.ifname != name || a.ip.IsLoopback()) continue;
    ExtIface e;
    e.name = name;
    e.index = static_cast<int>(if_nametoindex(name.c_str()));
    e.addr = a.ip;
    e.connected = a.net;
    cni::UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq req{};
    std::snprintf(req.ifr_name, IFNAMSIZ, "%s", name.c_str());
    if (s && ioctl(s.get(), SIOCGIFMTU, &req) == 0) e.mtu = req.ifr_mtu;
    return e;
  }
  return std::nullopt;
}

std::optional<ExtIface> FromIp(const std::vector<Addr>& addrs, const cni::IP& ip) {
  for (const Addr& a : addrs)
    if (a.ip == ip) return FromName(addrs, a.ifname);
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

}  // namespace

ExtIface LookupExtIface(const IfaceOptions& o) {
  auto addrs = ListAddrs();
  std::optional<ExtIface> found;
  for (const auto& i : o.iface) {
    if (auto ip = cni::IP::Parse(i); ip && ip->is4()) found = FromIp(addrs, *ip);
    else found = FromName(addrs, i);
    if (found) break;
  }
  for (size_t r = 0; !found && r < o.iface_regex.size(); ++r) {
    std::regex re(o.iface_regex[r]);
    for (const Addr& a : addrs)
      if (std::regex_search(a.ip.String(), re)) { found = FromName(addrs, a.ifname); break; }
    if (!found)
      for (const Addr& a : addrs)
        if (std::regex_search(a.ifname, re)) { found = FromName(addrs, a.ifname); break; }
  }
  if (!found && !o.iface_can_reach.empty()) {
    auto dst = cni::IP::Parse(o.iface_can_reach);
    if (!dst || !dst->is4()) throw cni::Error(cni::kInvalidEnvironment, "invalid --iface-can-reach " + o.iface_can_reach);
    cni::UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9);
    std::memcpy(&sa.sin_addr.s_addr, dst->data(), 4);
    socklen_t len = sizeof sa;
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        getsockname(s.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0)
      found = FromIp(addrs, cni::IP::FromBytes(reinterpret_cast<const uint8_t*>(&sa.sin_addr.s_addr), 4));
  }
  bool any_flag = !o.iface.empty() || !o.iface_regex.empty() || !o.iface_can_reach.empty();
  if (any_flag && !found)
    throw cni::Error(cni::kInvalidEnvironment,
                     "Failed to find interface to use that matches the interfaces and/or regexes provided");
  std::optional<cni::IP> pub;
  if (!o.public_ip.empty()) {
    pub = cni::IP::Parse(o.public_ip);
    if (!pub || !pub->is4()) throw cni::Error(cni::kInvalidEnvironment, "invalid --public-ip " + o.public_ip);
  }
  if (!found && pub) {
    found = FromIp(addrs, *pub);
    if (!found) throw cni::Error(cni::kInvalidEnvironment, "--public-ip " + o.public_ip + " is not a local address");
  }
  if (!found) {
    auto def = DefaultRouteIface();
    if (!def) throw cni::Error(cni::kInvalidEnvironment, "failed to get default interface: no default route");
    found = FromName(addrs, *def);
    if (!found) throw cni::Error(cni::kInvalidEnvironment, "default interface " + *def + " has no IPv4 address");
  }
  found->public_ip = pub.value_or(found->addr);
  return *found;
}

bool IsDirectlyConnected(const cni::IP& dst) {
  for (const Addr& a : ListAddrs())
    if (a.net.prefix > 0 && a.net.prefix < 32 && a.net.Contains(dst) && !a.ip.IsLoopback()) return true;
  return false;
}

}  // namespace weft::agent
