// bridge commands; see bridge.h. Every kernel change goes through one net::Socket per namespace
// (host: the plugin's own, container: opened in CNI_NETNS); the thread switches namespace only
// for the container's /proc/sys writes. An IPAM plugin that never looks at the container
// interface (host-local, static) runs on a second thread while the veth is created (ADD) or
// deleted (DEL): its exec overlaps the kernel's work instead of following it.
#include "bridge.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <set>
#include <system_error>

#include "cni/error.h"
#include "cni/invoke.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"
#include "cni/net/sysctl.h"
#include "config.h"
#include "masq.h"
#include "spoofcheck.h"

namespace bridge {
namespace {

using cni::Error;
using cni::IP;
using cni::IPNet;
using cni::kInternal;
namespace net = cni::net;

Error Internal(std::string msg) { return Error(kInternal, std::move(msg)); }

std::string Q(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string RandomVethName() {
  uint8_t b[4];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
    throw Error::Errno(errno, "getrandom");
  char buf[16];
  std::snprintf(buf, sizeof buf, "veth%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
  return buf;
}

/// sysctl writes whose failure the reference ignores (missing IPv6, read-only /proc/sys).
void TrySysctl(const std::string& name, const std::string& value) {
  try {
    net::WriteSysctl(name, value);
  } catch (const Error&) {
  }
}

/// IPAM plugins that do not need the container interface, so they can run while it is created or
/// deleted. Others (dhcp needs the interface up) keep the reference's order.
bool IpamIsIndependent(const std::string& type) { return type == "host-local" || type == "static"; }

/// Runs fn on its own thread; the future's destructor waits for it. When no thread can be
/// created (RLIMIT_NPROC, memory), fn runs on get() instead: the reference's sequential order.
template <typename Fn>
auto Background(Fn fn) {
  try {
    return std::async(std::launch::async, fn);
  } catch (const std::system_error&) {
    return std::async(std::launch::deferred, std::move(fn));
  }
}

bool Started(const std::future<cni::Result>& f) {
  return f.wait_for(std::chrono::seconds(0)) != std::future_status::deferred;
}

NetConf Load(const cni::CallArgs& a) {
  NetConf n = LoadNetConf(a.config, a.args);
  if (n.cni_version.empty()) n.cni_version = a.cni_version;
  return n;
}

net::Link EnsureBridge(net::Socket& host, const NetConf& n) {
  net::BridgeSpec spec;
  spec.name = n.bridge;
  spec.mtu = n.mtu > 0 ? static_cast<uint32_t>(n.mtu) : 0;
  // Better than the reference: the MAC is fixed when the bridge is created, so it never follows
  // its lowest-numbered port (the reference pins it only once a gateway address is added).
  spec.mac = net::RandomMac();
  if (n.vlan_filtering()) spec.vlan_filtering = true;
  net::Link br;
  bool created = false;
  try {
    br = host.EnsureBridge(spec, &created);
    if (n.promisc && !br.promisc) host.SetPromisc(br.index, true);
  } catch (const Error& e) {
    throw e.Wrap("failed to create bridge " + Q(n.bridge));
  }
  if (created || !br.up) {
    TrySysctl("net/ipv6/conf/" + n.bridge + "/accept_ra", "0");
    // Better than the reference: no IPv6 DAD on a bridge this plugin creates, written before the
    // link goes up so its link-local address is usable at once. While that address is tentative
    // the kernel sends no neighbour solicitation from the bridge, so the first routed packet to a
    // new pod on a new node waited ~2 s (docs/bridge.md, "Better than the reference").
    if (created) TrySysctl("net/ipv6/conf/" + n.bridge + "/accept_dad", "0");
    host.SetUp(br.index);
    br.up = true;
  }
  return br;
}

void SetupPortVlans(net::Socket& host, int vlan, const std::vector<int>& trunk, bool preserve,
                    const net::Link& port) {
  if (vlan == 0 && trunk.empty()) return;
  if (!preserve) {
    try {
      for (const auto& v : host.BridgeVlans(port.index)) host.DelBridgeVlan(port.index, v.vid);
    } catch (const Error& e) {
      throw e.Wrap("failed to remove default vlan on interface " + Q(port.name));
    }
  }
  if (vlan != 0) {
    try {
      host.AddBridgeVlan(port.index, {static_cast<uint16_t>(vlan), true, true});
    } catch (const Error& e) {
      throw e.Wrap("failed to setup vlan tag on interface " + Q(port.name));
    }
  }
  for (int vid : trunk) {
    try {
      host.AddBridgeVlan(port.index, {static_cast<uint16_t>(vid), false, false});
    } catch (const Error& e) {
      throw e.Wrap("failed to setup vlan tag on interface " + Q(port.name));
    }
  }
  if (vlan == 0 && !trunk.empty()) {
    try {
      host.AddBridgeVlan(port.index, {1, true, true});
    } catch (const Error& e) {
      throw e.Wrap("failed to setup default native vlan tag on interface " + Q(port.name));
    }
  }
}

/// Creates the pair from the host side: the container end (CNI_IFNAME, the requested MAC) is
/// created directly in the container namespace, the host end is attached to the bridge and up in
/// the same request. Returns {host end, container end}.
std::pair<net::Link, net::Link> SetupVeth(net::Socket& host, net::Socket& cont,
                                          const net::Netns& ns, const NetConf& n,
                                          const std::string& ifname, const net::Link& br) {
  std::optional<net::Mac> mac;
  if (!n.mac.empty()) {
    auto parsed = ParseMac(n.mac);
    if (!parsed) throw Internal("failed to make veth pair: address " + n.mac + ": invalid MAC address");
    mac = net::Mac::Parse(*parsed);
  }
  net::Link hostveth;
  for (int attempt = 0;; ++attempt) {
    std::string name = RandomVethName();
    try {
      hostveth = host.CreateVeth({.name = name,
                                  .mtu = n.mtu > 0 ? static_cast<uint32_t>(n.mtu) : 0,
                                  .peer_name = ifname,
                                  .peer_mac = mac,
                                  .peer_netns_fd = ns.fd(),
                                  .master = br.index,
                                  .up = true});
      break;
    } catch (const net::NetlinkError& e) {
      if (e.err() != EEXIST) {
        const std::string& m = e.msg();
        throw Internal("failed to make veth pair: " + m.substr(m.rfind(": ") + 2));
      }
      if (cont.FindLink(ifname))
        throw Internal("container veth name (" + Q(ifname) + ") peer provided (" + Q(name) +
                       ") already exists");
      if (attempt == 9) throw Internal("failed to make veth pair: " + Q(name) + " already exists");
    }
  }
  TrySysctl("net/ipv6/conf/" + hostveth.name + "/accept_ra", "0");
  // A new port starts with hairpin and isolation off: only turning them on needs a request.
  if (n.hairpin || n.port_isolation) {
    try {
      host.SetPortFlags(hostveth.index, {.hairpin = n.hairpin, .isolated = n.port_isolation});
    } catch (const Error& e) {
      throw e.Wrap("failed to setup hairpin mode for " + hostveth.name);
    }
  }
  SetupPortVlans(host, n.vlan, n.vlan_trunk.value_or(std::vector<int>{}), n.preserve_default_vlan,
                 hostveth);
  net::Link contveth = cont.GetLink(ifname);
  return {hostveth, contveth};
}

/// The VLAN gateway interface `<bridge>.<vlan>` of the reference: a veth pair in the host
/// namespace whose other end is a bridge port with the VLAN as PVID/untagged.
net::Link EnsureVlanInterface(net::Socket& host, const net::Link& br, const NetConf& n) {
  std::string name = br.name + "." + std::to_string(n.vlan);
  if (auto l = host.FindLink(name)) return *l;
  net::Link port;
  for (int attempt = 0;; ++attempt) {
    try {
      port = host.CreateVeth({.name = RandomVethName(), .mtu = br.mtu, .peer_name = name,
                              .master = br.index, .up = true});
      break;
    } catch (const net::NetlinkError& e) {
      if (e.err() != EEXIST || host.FindLink(name) || attempt == 9)
        throw e.Wrap("faild to create vlan gateway " + Q(name));
    }
  }
  TrySysctl("net/ipv6/conf/" + port.name + "/accept_ra", "0");
  host.SetPortFlags(port.index, {.hairpin = false});
  SetupPortVlans(host, n.vlan, {}, n.preserve_default_vlan, port);
  host.SetUp(name);
  return host.GetLink(name);
}

/// The bridge's gateway address for one family, as the reference's ensureAddr.
void EnsureBridgeAddr(net::Socket& host, const net::Link& br, const IPNet& gw, bool force) {
  for (const net::Addr& a : host.Addrs(br.index, gw.ip.af())) {
    if (a.addr == gw) return;
    if (a.addr.ip.is6() && a.scope == RT_SCOPE_LINK) continue;
    bool conflict = gw.ip.is4() || a.addr.Masked().Contains(gw.ip) || gw.Masked().Contains(a.addr.ip);
    if (!conflict) continue;
    if (!force)
      throw Internal(Q(br.name) + " already has an IP address different from " + gw.String());
    host.DeleteAddr(a);
  }
  try {
    // IFA_F_NODAD: the gateway answers the pod's first neighbour solicitation instead of staying
    // tentative for ~1 s (also on a bridge this plugin did not create); the subnet's owner, the
    // IPAM configuration, is what keeps the gateway address unique.
    host.AddAddr({.index = br.index, .addr = gw, .flags = gw.ip.is6() ? IFA_F_NODAD : 0U});
  } catch (const net::NetlinkError& e) {
    if (e.err() != EEXIST)
      throw Internal("could not add IP address " + gw.String() + " to " + Q(br.name) + ": " +
                     e.msg().substr(e.msg().rfind(": ") + 2));
  }
  // As the reference: pin the MAC of a bridge (one this plugin did not create may still follow
  // its ports) by setting it explicitly.
  if (br.kind == "bridge") {
    auto cur = host.GetLink(br.index).mac;  // current: a portless bridge may still be all-zero
    if (cur && !cur->IsZero()) host.SetMac(br.index, *cur);
  }
}

bool IsDefault(const IPNet& n) { return n.prefix == 0; }

/// The container interface's DAD and ARP sysctls. They do not depend on the IPAM result, so they
/// are written while the IPAM plugin runs.
void ContainerSysctls(const net::Netns& ns, const NetConf& n, const std::string& ifn) {
  net::NetnsGuard g(ns);
  if (n.enable_dad) {
    TrySysctl("net/ipv6/conf/" + ifn + "/enhanced_dad", "1");
    TrySysctl("net/ipv6/conf/" + ifn + "/accept_dad", "1");
  } else {
    TrySysctl("net/ipv6/conf/" + ifn + "/accept_dad", "0");
  }
  TrySysctl("net/ipv4/conf/" + ifn + "/arp_notify", "1");
}

/// Container addresses, IPv6 sysctls (only with an IPv6 address), link up and routes.
void ConfigureContainer(net::Socket& cont, const net::Netns& ns, const net::Link& contveth,
                        const cni::Result& r) {
  bool any6 = false;
  for (const auto& ip : r.ips) any6 |= ip.address.ip.is6();
  if (any6) {
    net::NetnsGuard g(ns);
    const std::string& ifn = contveth.name;
    for (const std::string& i : {std::string("lo"), ifn}) {
      try {
        net::EnsureSysctl("net/ipv6/conf/" + i + "/disable_ipv6", "0");
      } catch (const Error&) {
      }
    }
    TrySysctl("net/ipv6/conf/" + ifn + "/keep_addr_on_down", "1");
  }
  for (const auto& ip : r.ips) {
    try {
      cont.AddAddr({.index = contveth.index, .addr = ip.address});
    } catch (const net::NetlinkError& e) {
      throw Internal("failed to add IP addr " + ip.address.String() + " to " + Q(contveth.name) +
                     ": " + e.msg().substr(e.msg().rfind(": ") + 2));
    }
  }
  cont.SetUp(contveth.index);
  std::optional<IP> gw4, gw6;
  for (const auto& ip : r.ips) {
    if (!ip.gateway) continue;
    auto& slot = ip.gateway->is4() ? gw4 : gw6;
    if (!slot) slot = *ip.gateway;
  }
  std::set<std::pair<IPNet, IP>> added;
  for (const auto& rt : r.routes) {
    net::Route nr;
    nr.dst = rt.dst.Masked();
    if (rt.gw) nr.gw = *rt.gw;
    else if (rt.dst.ip.is4() && gw4) nr.gw = *gw4;
    else if (rt.dst.ip.is6() && gw6) nr.gw = *gw6;
    nr.index = contveth.index;
    if (rt.priority) nr.metric = static_cast<uint32_t>(*rt.priority);
    if (rt.table) nr.table = static_cast<uint32_t>(*rt.table);
    if (rt.scope) nr.scope = *rt.scope;
    if (rt.mtu) nr.mtu = static_cast<uint32_t>(*rt.mtu);
    // Better than the reference: an identical route listed twice (IPAM's default route plus
    // isDefaultGateway's) is added once instead of failing the ADD with "file exists".
    if (!added.insert({nr.dst, nr.gw}).second) continue;
    try {
      cont.AddRoute(nr);
    } catch (const net::NetlinkError& e) {
      throw Internal("failed to add route '" + nr.dst.String() + " via " +
                     (nr.gw.valid() ? nr.gw.String() : std::string("<nil>")) + " dev " +
                     contveth.name + "': " + e.msg().substr(e.msg().rfind(": ") + 2));
    }
  }
}

void EnableForwarding(bool v4, bool v6) {
  try {
    if (v4) net::EnsureSysctl("net/ipv4/ip_forward", "1");
    if (v6) net::EnsureSysctl("net/ipv6/conf/all/forwarding", "1");
  } catch (const Error& e) {
    throw e.Wrap("failed to enable forwarding");
  }
}

}  // namespace

cni::Result CmdAdd(const cni::CallArgs& a) {
  NetConf n = Load(a);
  bool l3 = n.layer3();
  if (l3 && n.disable_container_interface)
    throw Internal("cannot use IPAM when DisableContainerInterface flag is set");
  if (n.is_default_gw) n.is_gw = true;
  if (n.hairpin && n.promisc)
    throw Internal("cannot set hairpin mode and promiscuous mode at the same time");

  // host-local's exec overlaps the bridge and veth setup. It starts only once the namespace is
  // known to be valid; when the ADD fails before it is used, its lease is released again. Errors
  // keep the reference's order (bridge, then namespace, then veth, then IPAM).
  std::optional<net::Netns> early_ns;
  try {
    early_ns = net::Netns::Open(a.netns);
  } catch (const Error&) {
  }
  std::future<cni::Result> early_ipam;
  if (early_ns && l3 && IpamIsIndependent(n.ipam_type))
    early_ipam = Background([&] { return cni::DelegateAdd(n.ipam_type, a.env, a.stdin_data, a.cni_version); });
  struct ReleaseEarlyIpam {
    std::future<cni::Result>& f;
    const NetConf& n;
    const cni::CallArgs& a;
    ~ReleaseEarlyIpam() {
      if (!f.valid() || !Started(f)) return;  // taken over by the ADD below, or never run
      try {
        f.get();
        cni::Delegate(n.ipam_type, "DEL", a.env, a.stdin_data);
      } catch (...) {
      }
    }
  } release_early{early_ipam, n, a};

  net::Socket host = net::Socket::Open();
  net::Link br = EnsureBridge(host, n);
  net::Netns ns = early_ns ? std::move(*early_ns) : net::Netns::Open(a.netns);
  net::Socket cont = net::Socket::OpenIn(ns);
  auto [hostveth, contveth] = SetupVeth(host, cont, ns, n, a.ifname, br);

  cni::Result result;
  result.cni_version = n.cni_version;
  auto iface = [](const net::Link& l, const std::string& sandbox) {
    cni::Interface i;
    i.name = l.name;
    if (l.mac) i.mac = l.mac->String();
    i.sandbox = sandbox;
    return i;
  };
  result.interfaces = {iface(br, ""), iface(hostveth, ""), iface(contveth, a.netns)};

  // macspoofchk rules are rolled back if the ADD fails later (as the reference's deferred teardown).
  std::string ref_id = a.container_id + "-" + a.ifname;
  bool spoof_ok = !n.macspoofchk;
  struct SpoofRollback {
    const bool& ok;
    const std::string& ref;
    ~SpoofRollback() {
      if (ok) return;
      try {
        TeardownSpoofCheck(ref);
      } catch (...) {
      }
    }
  } spoof_rollback{spoof_ok, ref_id};
  if (n.macspoofchk) SetupSpoofCheck(hostveth.name, result.interfaces[2].mac, ref_id);

  if (l3) {
    ContainerSysctls(ns, n, contveth.name);
    cni::Result ipam = early_ipam.valid()
                           ? early_ipam.get()
                           : cni::DelegateAdd(n.ipam_type, a.env, a.stdin_data, a.cni_version);
    bool ok = false;
    struct ReleaseOnFailure {
      const bool& ok;
      const NetConf& n;
      const cni::CallArgs& a;
      ~ReleaseOnFailure() {
        if (ok) return;
        try {
          cni::Delegate(n.ipam_type, "DEL", a.env, a.stdin_data);
        } catch (...) {
        }
      }
    } release{ok, n, a};

    if (ipam.ips.empty()) throw Internal("IPAM plugin returned missing IP config");
    result.ips = ipam.ips;
    result.routes = ipam.routes;
    result.dns = ipam.dns;

    std::map<int, std::vector<IPNet>> gw_addrs;  // family -> bridge addresses
    bool has_default4 = false, has_default6 = false;
    for (const auto& rt : result.routes) {
      if (IsDefault(rt.dst) && rt.gw) (rt.dst.ip.is4() ? has_default4 : has_default6) = true;
    }
    for (auto& ip : result.ips) {
      ip.interface = 2;
      if (!ip.gateway && n.is_gw) ip.gateway = ip.address.Network().Next();
      bool v4 = ip.address.ip.is4();
      if (n.is_default_gw && ip.gateway && !(v4 ? has_default4 : has_default6)) {
        cni::Route def;
        def.dst = IPNet{v4 ? *IP::Parse("0.0.0.0") : *IP::Parse("::"), 0};
        def.gw = *ip.gateway;
        result.routes.push_back(def);
        (v4 ? has_default4 : has_default6) = true;
      }
      if (n.is_gw && ip.gateway) {
        IPNet g{*ip.gateway, ip.address.prefix};
        auto& v = gw_addrs[v4 ? 4 : 6];
        if (std::find(v.begin(), v.end(), g) == v.end()) v.push_back(g);
      }
    }

    ConfigureContainer(cont, ns, contveth, result);

    if (n.is_gw) {
      std::optional<net::Link> vlan_if;
      for (int fam : {4, 6}) {
        for (const IPNet& g : gw_addrs[fam]) {
          if (n.vlan != 0) {
            if (!vlan_if) {
              vlan_if = EnsureVlanInterface(host, br, n);
              result.interfaces.push_back(iface(*vlan_if, ""));
            }
            try {
              EnsureBridgeAddr(host, *vlan_if, g, n.force_address);
            } catch (const Error& e) {
              throw e.Wrap("failed to set vlan interface for bridge with addr");
            }
            continue;
          }
          try {
            EnsureBridgeAddr(host, br, g, n.force_address);
          } catch (const Error& e) {
            throw e.Wrap("failed to set bridge addr");
          }
        }
      }
      EnableForwarding(!gw_addrs[4].empty(), !gw_addrs[6].empty());
    }
    if (n.ip_masq) {
      std::vector<IPNet> addrs;
      for (const auto& ip : result.ips) addrs.push_back(ip.address);
      SetupMasq(n, a.container_id, a.ifname, addrs);
    }
    ok = true;
  } else if (!n.disable_container_interface) {
    try {
      cont.SetUp(contveth.index);
    } catch (const Error& e) {
      throw Internal("failed to set " + Q(a.ifname) + " up: " + e.msg());
    }
  }

  spoof_ok = true;
  // The bridge MAC as it is now (an existing, unpinned bridge may have changed it).
  if (auto b = host.FindLink(br.index); b && b->mac) result.interfaces[0].mac = b->mac->String();
  if (!n.dns.empty()) result.dns = n.dns;
  return result;
}

void CmdDel(const cni::CallArgs& a) {
  NetConf n = Load(a);
  const bool l3 = n.layer3();
  std::optional<net::Netns> ns;
  if (!a.netns.empty()) {
    struct stat st {};
    bool exists = ::stat(a.netns.c_str(), &st) == 0 || errno != ENOENT;
    if (exists) ns = net::Netns::Open(a.netns);  // not a netns: the reference fails too
  }
  // host-local's DEL and the masquerade teardown run while the kernel deletes the veth (which
  // waits for an RCU grace period); their errors are reported in the reference's order.
  std::future<void> ipam;
  if (l3 && IpamIsIndependent(n.ipam_type))
    ipam = Background([&] { cni::Delegate(n.ipam_type, "DEL", a.env, a.stdin_data); });
  std::future<void> masq;
  // Better than the reference: the masquerade rules are found from (network, container ID,
  // ifname), so they are removed even when the interface or the namespace is already gone.
  // Families: those of the container's addresses, both when they are not known.
  auto start_masq = [&](bool v4, bool v6) {
    if (l3 && n.ip_masq && !masq.valid())
      masq = Background([&n, &a, v4, v6] { TeardownMasq(n, a.container_id, a.ifname, v4, v6); });
  };
  cni::ErrorList errs;
  if (ns) {
    errs.Try([&] {
      net::Socket cont = net::Socket::OpenIn(*ns);
      if (!(n.ip_masq && l3)) {
        cont.DeleteLink(a.ifname);  // not there: nothing to do
      } else if (auto l = cont.FindLink(a.ifname)) {
        bool v4 = false, v6 = false;
        for (const auto& ad : cont.Addrs(l->index)) {
          if (ad.scope != RT_SCOPE_UNIVERSE) continue;
          (ad.addr.ip.is4() ? v4 : v6) = true;
        }
        if (v4 || v6) start_masq(v4, v6);
        cont.DeleteLink(l->index);
      }
    });
  }
  start_masq(true, true);  // no addresses known (no-op when already started)
  if (l3) {
    if (ipam.valid()) errs.Try([&] { ipam.get(); });
    else errs.Try([&] { cni::Delegate(n.ipam_type, "DEL", a.env, a.stdin_data); });
  }
  if (n.macspoofchk) {
    // As the reference: a teardown failure is reported on stderr and does not fail the DEL.
    try {
      TeardownSpoofCheck(a.container_id + "-" + a.ifname);
    } catch (const Error& e) {
      std::fprintf(stderr, "failed to teardown spoof-check: %s\n", e.what());
    }
  }
  if (masq.valid()) errs.Try([&] { masq.get(); });
  errs.ThrowIfAny();
}

void CmdCheck(const cni::CallArgs& a) {
  NetConf n = Load(a);
  net::Netns ns = net::Netns::Open(a.netns);
  if (n.layer3()) cni::Delegate(n.ipam_type, "CHECK", a.env, a.stdin_data);
  auto prev = a.PrevResult();
  if (!prev) throw Internal("Required prevResult missing");

  const cni::Interface* br_if = nullptr;
  const cni::Interface* cont_if = nullptr;
  for (const auto& i : prev->interfaces) {
    if (i.name == n.bridge) br_if = &i;
    if (i.name == a.ifname && i.sandbox == a.netns) cont_if = &i;
  }
  if (!br_if) throw Internal("Interface name missing ");
  if (!cont_if) throw Internal("CNI created interface in container " + a.ifname + " not found");

  net::Socket host = net::Socket::Open();
  auto br = host.FindLink(br_if->name);
  if (!br) throw Internal("Interface name " + br_if->name + " not found");
  if (!br_if->sandbox.empty()) throw Internal("Interface " + br_if->name + " should not be in sandbox");
  if (br->kind != "bridge")
    throw Internal("Interface " + br_if->name + " does not have link type of bridge");
  if (!br_if->mac.empty() && (!br->mac || br->mac->String() != br_if->mac))
    throw Internal("Bridge interface " + br_if->name + " Mac doesn't match: " + br_if->mac);
  if (br->promisc != n.promisc)
    throw Internal("Bridge interface " + br_if->name + " configured Promisc Mode " +
                   (n.promisc ? "true" : "false") + " doesn't match current state: " +
                   (br->promisc ? "true" : "false") + " ");
  if (a.netns != cont_if->sandbox)
    throw Internal("Sandbox in prevResult " + cont_if->sandbox +
                   " doesn't match configured netns: " + a.netns);

  net::Socket cont = net::Socket::OpenIn(ns);
  auto cl = cont.FindLink(a.ifname);
  if (!cl) throw Internal("CNI created interface in container " + a.ifname + " not found");
  if (cl->kind != "veth") throw Internal("Error: Container interface " + a.ifname + " not of type veth");
  if (!cont_if->mac.empty() && (!cl->mac || cl->mac->String() != cont_if->mac))
    throw Internal("Interface " + a.ifname + " Mac " + cont_if->mac +
                   " doesn't match container Mac: " + (cl->mac ? cl->mac->String() : ""));

  bool veth_found = false;
  for (const auto& i : prev->interfaces) {
    if (&i == br_if || &i == cont_if || !i.sandbox.empty()) continue;
    auto hl = host.FindLink(i.name);
    if (!hl || hl->kind != "veth") continue;
    if (hl->index != cl->link || hl->master != br->index) continue;
    if (!i.mac.empty() && (!hl->mac || hl->mac->String() != i.mac))
      throw Internal("Interface " + i.name + " Mac " + i.mac + " doesn't match: " +
                     (hl->mac ? hl->mac->String() : ""));
    veth_found = true;
  }
  if (!veth_found) throw Internal("CNI veth created for bridge " + n.bridge + " was not found");

  // Addresses and routes in the container (an L2 network has none, and that is the right answer).
  auto addrs = cont.Addrs(cl->index);
  auto routes = cont.Routes(0, 0);
  for (const auto& ip : prev->ips) {
    bool found = false;
    for (const auto& ad : addrs) found |= ad.addr == ip.address;
    if (!found)
      throw Internal("Failed to match addr " + ip.address.String() + " on interface " + a.ifname);
    bool has_route = false;
    for (const auto& r : routes) has_route |= r.index == cl->index && r.dst == ip.address.Masked();
    if (!has_route)
      throw Internal("Failed to find a route to " + ip.address.Masked().String() + " on interface " +
                     a.ifname);
  }
  for (const auto& rt : prev->routes) {
    bool found = false;
    for (const auto& r : routes) {
      if (r.dst != rt.dst.Masked()) continue;
      if (rt.gw && r.gw != *rt.gw) continue;
      found = true;
    }
    if (!found) throw Internal("Expected Route " + rt.dst.String() + " not found in routing table");
  }
  if (n.layer3() && n.ip_masq) {
    std::vector<IPNet> want;
    for (const auto& ip : prev->ips) want.push_back(ip.address);
    if (auto miss = CheckMasq(n, a.container_id, a.ifname, want)) throw Internal(*miss);
  }
}

void CmdStatus(const cni::CallArgs& a) {
  NetConf n = Load(a);
  if (n.layer3()) cni::Delegate(n.ipam_type, "STATUS", a.env, a.stdin_data);
}

void CmdGc(const cni::CallArgs& a) {
  NetConf n = Load(a);
  cni::ErrorList errs;
  if (n.layer3()) errs.Try([&] { cni::Delegate(n.ipam_type, "GC", a.env, a.stdin_data); });
  if (n.layer3() && n.ip_masq) {
    std::set<std::pair<std::string, std::string>> valid;
    if (auto v = cni::Field(a.config, "cni.dev/valid-attachments"); v && v->is_array()) {
      for (const auto& att : *v) {
        auto cid = cni::Field(att, "containerID"), ifn = cni::Field(att, "ifname");
        if (cid && cid->is_string())
          valid.insert({cid->get<std::string>(), ifn && ifn->is_string() ? ifn->get<std::string>() : ""});
      }
    }
    errs.Try([&] { GcMasq(n, valid); });
  }
  errs.ThrowIfAny();
}

cni::PluginFuncs Funcs() {
  return {.add = CmdAdd, .del = CmdDel, .check = CmdCheck, .gc = CmdGc, .status = CmdStatus, .min_version = {}};
}

}  // namespace bridge
