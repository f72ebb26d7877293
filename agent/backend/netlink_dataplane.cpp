// The data plane on libcni's rtnetlink layer (cni/net/netlink.h): one NETLINK_ROUTE socket in
// the agent's namespace, one request per entry, no processes. Entries are programmed the way
// flanneld's netlink calls do it: neighbour NUD_PERMANENT replace, FDB NTF_SELF permanent
// replace with the peer's public IP as NDA_DST, route replace with RTNH_F_ONLINK and proto boot.
// A failing entry is logged and skipped (the next resync or event retries it); a device or
// address failure throws.
#include <sys/socket.h>

#include <cstdio>
#include <map>

#include "agent/backend/kernel.h"
#include "agent/runtime.h"
#include "cni/error.h"
#include "cni/net/netlink.h"

namespace weft::agent {

namespace {

namespace net = cni::net;

net::Mac ToMac(const Mac& m) { return net::Mac{m}; }

constexpr uint16_t kNudPermanent = 0x80;

class NetlinkDataplane : public Dataplane {
 public:
  NetlinkDataplane() : sk_(net::Socket::Open()) {}

  Mac EnsureVxlan(const VxlanDeviceSpec& s) override {
    int dev = sk_.GetLink(s.dev).index;
    if (auto l = sk_.FindLink(s.name)) {
      std::string why = Incompatible(*l, s, dev);
      if (why.empty()) return l->mac ? l->mac->b : Mac{};
      Log('W', "\"" + s.name + "\" already exists with incompatible configuration: " + why + "; recreating device");
      sk_.DeleteLink(s.name);
    }
    if (s.gbp) Log('W', "GBP is not supported by weftd's VXLAN device; ignoring");
    net::VxlanSpec spec;
    spec.name = s.name;
    spec.vni = s.vni;
    spec.port = s.port;
    spec.local = s.local;
    spec.dev = dev;
    spec.learning = s.learning;
    spec.mtu = static_cast<uint32_t>(s.mtu);
    spec.mac = ToMac(s.mac);
    net::Link l = sk_.CreateVxlan(spec);
    // flanneld sets accept_ra=0 on the device and ignores errors.
    if (FILE* f = std::fopen(("/proc/sys/net/ipv6/conf/" + s.name + "/accept_ra").c_str(), "w")) {
      std::fputs("0", f);
      std::fclose(f);
    }
    return l.mac ? l.mac->b : Mac{};
  }

  void EnsureAddress(const std::string& dev, const cni::IPNet& addr, const cni::IPNet& network) override {
    net::Link l = sk_.GetLink(dev);
    bool have = false;
    for (const net::Addr& a : sk_.Addrs(l.index, addr.ip.af())) {
      const cni::IP& ip = a.addr.ip;
      if (ip == addr.ip && a.addr.prefix == addr.prefix) have = true;
      else if (network.Contains(ip)) sk_.DeleteAddr(a);
    }
    if (!have) {
      net::Addr a;
      a.index = l.index;
      a.addr = addr;
      sk_.AddAddr(a);
    }
    sk_.SetUp(l.index);
  }

  void Apply(const std::string& dev, const Changes& c) override {
    if (c.empty()) return;
    index_.clear();  // ifindexes are cached per batch only: a re-created device gets a new one
    int index = dev.empty() ? 0 : sk_.GetLink(dev).index;
    for (const auto& r : c.del_routes) Try("delete route " + r.dst.String(), [&] { sk_.DeleteRoute(ToRoute(r)); });
    for (const auto& n : c.del_neighs) Try("delete neighbour " + n.ip.String(), [&] { sk_.DeleteNeigh(ToNeigh(index, n)); });
    for (const auto& f : c.del_fdbs) Try("delete fdb " + MacString(f.mac), [&] { sk_.DeleteFdb(ToFdb(index, f)); });
    for (const auto& f : c.add_fdbs) Try("fdb " + MacString(f.mac), [&] { sk_.ReplaceFdb(ToFdb(index, f)); });
    for (const auto& n : c.add_neighs) Try("neighbour " + n.ip.String(), [&] { sk_.ReplaceNeigh(ToNeigh(index, n)); });
    for (const auto& r : c.add_routes) Try("route " + r.dst.String(), [&] { sk_.ReplaceRoute(ToRoute(r)); });
  }

  KernelState Dump(const std::string& dev, const cni::IPNet& network) override {
    KernelState st;
    std::map<int, std::string> names;
    for (const net::Link& l : sk_.Links()) names[l.index] = l.name;
    for (const net::Route& r : sk_.Routes(network.ip.af(), 254)) {
      if (!r.gw.valid() || !r.multipath.empty()) continue;
      if (!network.Contains(r.dst.ip) || r.dst.prefix <= network.prefix) continue;
      st.routes.push_back({r.dst.Masked(), r.gw, names[r.index], r.onlink});
    }
    if (dev.empty()) return st;
    auto link = sk_.FindLink(dev);
    if (!link) return st;
    // Only the overlay's neighbours: on an IPv6 device the kernel keeps its own (link-local) ones.
    for (const net::Neigh& n : sk_.Neighs(link->index, network.ip.af()))
      if (network.Contains(n.ip)) st.neighs.push_back({n.ip, n.mac.b});
    for (const net::Fdb& f : sk_.Fdbs(link->index))
      if (f.dst.valid() && f.dst.family() == network.ip.family()) st.fdbs.push_back({f.mac.b, f.dst});
    return st;
  }

 private:
  template <typename Fn>
  static void Try(const std::string& what, Fn&& fn) {
    try {
      fn();
    } catch (const cni::Error& e) {
      Log('E', what + ": " + e.msg());
    }
  }

  net::Route ToRoute(const RouteEntry& r) {
    net::Route nr;
    nr.dst = r.dst;
    nr.gw = r.gw;
    if (!r.dev.empty()) nr.index = Index(r.dev);
    nr.onlink = r.onlink;
    return nr;
  }
  static net::Neigh ToNeigh(int index, const NeighEntry& n) {
    net::Neigh nn;
    nn.index = index;
    nn.ip = n.ip;
    nn.mac = ToMac(n.mac);
    nn.state = kNudPermanent;
    return nn;
  }
  static net::Fdb ToFdb(int index, const FdbEntry& f) {
    net::Fdb nf;
    nf.index = index;
    nf.mac = ToMac(f.mac);
    nf.dst = f.dst;
    nf.state = kNudPermanent;
    nf.self = true;
    return nf;
  }
  int Index(const std::string& name) {
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    int i = sk_.GetLink(name).index;
    index_[name] = i;
    return i;
  }

  // flanneld's vxlanLinksIncompat: type, VNI, underlay, local address, port (MTU/MAC not compared).
  static std::string Incompatible(const net::Link& l, const VxlanDeviceSpec& s, int dev) {
    if (l.kind != "vxlan") return "type " + l.kind + " != vxlan";
    if (l.vni != s.vni) return "vni " + std::to_string(l.vni) + " != " + std::to_string(s.vni);
    if (l.vxlan_dev && l.vxlan_dev != dev) return "vtep device index " + std::to_string(l.vxlan_dev) + " != " + std::to_string(dev);
    if (l.vxlan_local.valid() && l.vxlan_local != s.local)
      return "local " + l.vxlan_local.String() + " != " + s.local.String();
    uint16_t want = s.port ? s.port : 8472;
    if (l.vxlan_port && l.vxlan_port != want) return "port " + std::to_string(l.vxlan_port) + " != " + std::to_string(want);
    return {};
  }

  net::Socket sk_;
  std::map<std::string, int> index_;
};

}  // namespace

std::unique_ptr<Dataplane> MakeNetlinkDataplane() { return std::make_unique<NetlinkDataplane>(); }

}  // namespace weft::agent
