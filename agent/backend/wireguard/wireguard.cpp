// WireGuard backend (see wireguard.h).
#include "agent/backend/wireguard/wireguard.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <set>
#include <utility>

#include "agent/runtime.h"
#include "cni/error.h"
#include "cni/net/netlink.h"

namespace weft::agent {

namespace wg = cni::net::wg;

WireguardBackend::WireguardBackend(const NetworkConfig& cfg, const ExtIface& ext, std::string wireguard_go)
    : cfg_(cfg), ext_(ext), wireguard_go_(std::move(wireguard_go)), dp_(MakeNetlinkDataplane()) {
  wcfg_ = wireguard::ParseConfig(cni::ParseJson(cfg.backend.raw.empty() ? "{}" : cfg.backend.raw));
  for (wireguard::Tunnel& t : wireguard::Tunnels(wcfg_, cfg.enable_ipv4, cfg.enable_ipv6))
    devs_.push_back({.t = std::move(t)});
}

WireguardBackend::~WireguardBackend() = default;  // the devices stay: a restarted weftd adopts them

void WireguardBackend::EnsureDevice(Dev& d) {
  std::weak_ptr<std::atomic<bool>> flag = d.restarted;
  d.dev = wg::EnsureDevice({.name = d.t.name,
                            .mtu = static_cast<uint32_t>(mtu_),
                            .wireguard_go = wireguard_go_,
                            .on_restart = [flag](const std::string& what, bool ok) {
                              Log(ok ? 'W' : 'E', what);
                              if (auto f = flag.lock()) f->store(true);
                            }});
  // Key and port before the lease is published; peers stay until the first full lease list.
  d.dev->Configure({.private_key = key_, .listen_port = d.t.port});
}

// Fail closed: for each enabled family an unreachable route for the whole Network /
// IPv6Network under the device route (a higher metric), so that whenever the device route is
// missing (before the devices exist at start-up, while a dead wireguard-go is restarted, after
// someone deleted a device) pod traffic to other nodes is refused instead of leaving in
// cleartext by the default route. Senders get "No route to host" (pods an ICMP host
// unreachable; an established TCP connection takes that as a soft error and survives a short
// gap). It names no device, so it outlives them; it stays at exit, like the devices. Returns
// how many were missing.
size_t WireguardBackend::EnsureFailClosed(bool startup) {
  cni::net::Socket sk = cni::net::Socket::Open();
  size_t added = 0;
  for (const auto& [on, net] :
       {std::pair{cfg_.enable_ipv4, cfg_.network}, std::pair{cfg_.enable_ipv6, cfg_.ipv6_network}}) {
    if (!on) continue;
    cni::net::Route want{
        .dst = net.Masked(), .type = wireguard::kFailClosedType, .metric = wireguard::kFailClosedMetric};
    std::vector<cni::net::Route> have = sk.Routes(want.family());
    if (std::any_of(have.begin(), have.end(), [&](const cni::net::Route& r) {
          return r.dst == want.dst && r.type == want.type && r.metric == want.metric;
        }))
      continue;
    sk.ReplaceRoute(want);
    ++added;
    Log(startup ? 'I' : 'W', "fail-closed route unreachable " + want.dst.String() + " metric " +
                                 std::to_string(want.metric) + (startup ? " added" : " was missing; restored"));
  }
  return added;
}

OwnSetup WireguardBackend::Init() {
  EnsureFailClosed(true);  // before the devices: start-up is closed too
  std::string path = wireguard::KeyFilePath(std::getenv("WIREGUARD_KEY_FILE"));
  key_ = wireguard::LoadOrCreateKey(path);  // one key pair for both devices, as flanneld
  mtu_ = wireguard::DeviceMtu(wcfg_, ext_.mtu);
  wg::Key pub = wg::PublicKey(key_);
  for (Dev& d : devs_) {
    EnsureDevice(d);
    Log('I', "WireGuard device " + d.t.name + " (" +
                 (d.dev->backend() == wg::Backend::kKernel ? "kernel" : "wireguard-go") + ") public key " +
                 pub.Base64() + " port " + std::to_string(d.t.port) + " MTU " + std::to_string(mtu_) + ", key file " +
                 path);
  }
  if (wcfg_.mode != wireguard::Mode::kSeparate && cfg_.enable_ipv6 && wcfg_.listen_port != wcfg_.listen_port_v6)
    Log('W', "wireguard Mode auto/ipv4/ipv6: ListenPortV6 differs from ListenPort; flanneld peers dial the "
             "published ListenPortV6 for IPv6 endpoints, where this node does not listen: set both equal");
  wireguard::OwnLeaseData data = wireguard::OwnData(wcfg_, pub, cfg_.enable_ipv4, cfg_.enable_ipv6);
  return {.backend_data = std::move(data.v4), .mtu = mtu_, .backend_v6_data = std::move(data.v6)};
}

void WireguardBackend::Plumb(const Dev& d) {
  if (d.t.v4) dp_->EnsureAddress(d.t.name, {own_subnet_.ip, 32}, cfg_.network);
  if (d.t.v6) dp_->EnsureAddress(d.t.name, {own_subnet6_.ip, 128}, cfg_.ipv6_network);
  cni::net::Socket sk = cni::net::Socket::Open();
  cni::net::Link l = sk.GetLink(d.t.name);
  if (mtu_ > 0 && l.mtu != static_cast<uint32_t>(mtu_)) sk.SetMtu(l.index, static_cast<uint32_t>(mtu_));
  // One route per carried family for the whole network; cni0's more specific routes keep the
  // own subnets local.
  if (d.t.v4) sk.ReplaceRoute({.dst = cfg_.network.Masked(), .index = l.index, .scope = 253});
  if (d.t.v6) sk.ReplaceRoute({.dst = cfg_.ipv6_network.Masked(), .index = l.index, .scope = 253});
}

void WireguardBackend::ConfigureOwn(const Lease& own) {
  if (cfg_.enable_ipv4 && !own.subnet.ip.valid())
    throw cni::Error(cni::kInternal, "failed to configure wg interface: IPv4 is enabled but the lease has no IPv4");
  if (cfg_.enable_ipv6 && !own.subnet6.ip.valid())
    throw cni::Error(cni::kInternal, "failed to configure wg interface: IPv6 is enabled but the lease has no IPv6");
  own_subnet_ = own.subnet;
  own_subnet6_ = own.subnet6;
  for (const Dev& d : devs_) Plumb(d);
}

void WireguardBackend::Want(Dev& d, const Lease& peer) {
  wireguard::PeerLease pl{.subnet = peer.subnet,
                          .subnet6 = peer.subnet6,
                          .public_ip = peer.attrs.public_ip,
                          .public_ipv6 = peer.attrs.public_ipv6,
                          .backend_type = peer.attrs.backend_type};
  try {
    if (!peer.attrs.backend_data.empty()) pl.backend_data = cni::ParseJson(peer.attrs.backend_data);
    if (!peer.attrs.backend_v6_data.empty()) pl.backend_v6_data = cni::ParseJson(peer.attrs.backend_v6_data);
  } catch (const cni::Error& e) {
    Log('E', "failed to unmarshal BackendData: " + e.msg());
    d.want.erase(peer.Key());
    return;
  }
  auto r = wireguard::PeerFor(pl, d.t, {.ext_v4 = ext_.public_ip, .ext_v6 = ext_.public_ip6});
  if (auto* why = std::get_if<std::string>(&r)) {
    Log('W', *why);
    d.want.erase(peer.Key());
    return;
  }
  auto& w = std::get<wireguard::WantedPeer>(r);
  auto it = d.want.find(peer.Key());
  if (it == d.want.end() || !(it->second == w)) {
    if (d.t.single) {
      std::string nets;
      for (const cni::IPNet& n : w.allowed_ips) nets += (nets.empty() ? "" : " ") + n.String();
      Log('I', "Subnet(s) added: [" + nets + "] via " + w.endpoint.String());
    } else {
      Log('I', "Subnet added: " + w.allowed_ips.front().String() + " via " + w.endpoint.String());
    }
  }
  d.want[peer.Key()] = std::move(w);
}

// A peer counts once however many devices program it.
void WireguardBackend::Count() {
  std::set<std::string> keys;
  for (const Dev& d : devs_)
    for (const auto& [k, w] : d.want) keys.insert(k);
  programmed_ = keys.size();
}

void WireguardBackend::SetPeers(const std::vector<Lease>& peers) {
  for (Dev& d : devs_) {
    d.want.clear();
    for (const Lease& l : peers) Want(d, l);
    Sync(d);
  }
  Count();
  reconciled_ = true;
}

void WireguardBackend::AddPeer(const Lease& peer) {
  for (Dev& d : devs_) Want(d, peer);
  dirty_ = true;
}

void WireguardBackend::RemovePeer(const Lease& peer) {
  bool known = false;
  for (Dev& d : devs_) known = d.want.erase(peer.Key()) > 0 || known;
  if (known) Log('I', "Subnet removed: " + peer.String());
  dirty_ = true;
}

void WireguardBackend::Flush() {
  if (!dirty_ || !reconciled_) return;
  dirty_ = false;
  for (Dev& d : devs_) Sync(d);
  Count();
}

size_t WireguardBackend::Sync(Dev& d) {
  std::vector<wireguard::WantedPeer> want;
  want.reserve(d.want.size());
  for (const auto& [k, w] : d.want) want.push_back(w);
  wg::Config c = wireguard::Diff(want, d.dev->Get(), wcfg_, static_cast<int64_t>(std::time(nullptr)));
  if (c.peers.empty()) return 0;
  for (const wg::PeerConfig& p : c.peers)
    if (p.remove) Log('I', "removing WireGuard peer " + p.public_key.Base64() + " from " + d.t.name + " (no lease wants it)");
  try {
    d.dev->Configure(c);
  } catch (const cni::Error& e) {
    Log('E', "failed to configure " + d.t.name + " peers: " + e.msg() + " (retried by the next check)");
    return 0;
  }
  return c.peers.size();
}

// The periodic check, per device: the device (re-created or re-adopted when its link is gone; a
// dead wireguard-go was already restarted by the device's supervisor), its addresses, MTU and
// routes, and the peers against the leases.
CheckResult WireguardBackend::Check() {
  CheckResult r;
  try {
    r.repaired += EnsureFailClosed(false);
  } catch (const cni::Error& e) {
    Log('E', "WireGuard fail-closed route: " + e.msg());
  }
  if (!reconciled_) return r;
  for (Dev& d : devs_) {
    try {
      bool restarted = d.restarted->exchange(false);
      if (!cni::net::Socket::Open().FindLink(d.t.name)) {
        Log('W', d.t.name + " is gone; re-creating it");
        d.dev.reset();
        EnsureDevice(d);
        restarted = true;
        ++r.repaired;
      }
      Plumb(d);
      if (restarted) Log('I', d.t.name + ": addresses and routes restored");
      r.repaired += Sync(d);
    } catch (const cni::Error& e) {
      Log('E', "WireGuard check of " + d.t.name + ": " + e.msg());
    }
  }
  return r;
}

}  // namespace weft::agent
