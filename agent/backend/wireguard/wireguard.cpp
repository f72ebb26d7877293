// WireGuard backend (see wireguard.h).
#include "agent/backend/wireguard/wireguard.h"

#include <cstdlib>
#include <ctime>

#include "agent/runtime.h"
#include "cni/error.h"
#include "cni/net/netlink.h"

namespace weft::agent {

namespace wg = cni::net::wg;
using wireguard::kDevice;

WireguardBackend::WireguardBackend(const NetworkConfig& cfg, const ExtIface& ext, std::string wireguard_go)
    : cfg_(cfg), ext_(ext), wireguard_go_(std::move(wireguard_go)), dp_(MakeNetlinkDataplane()) {
  wcfg_ = wireguard::ParseConfig(cni::ParseJson(cfg.backend.raw.empty() ? "{}" : cfg.backend.raw));
  if (wcfg_.mode == wireguard::Mode::kIPv6)
    throw cni::Error(cni::kInvalidNetworkConfig, "wireguard Mode ipv6 needs an IPv6 network (weftd is IPv4-only)");
}

WireguardBackend::~WireguardBackend() = default;  // the device stays: a restarted weftd adopts it

void WireguardBackend::EnsureDevice() {
  std::weak_ptr<std::atomic<bool>> flag = restarted_;
  dev_ = wg::EnsureDevice({.name = kDevice,
                           .mtu = static_cast<uint32_t>(mtu_),
                           .wireguard_go = wireguard_go_,
                           .on_restart = [flag](const std::string& what, bool ok) {
                             Log(ok ? 'W' : 'E', what);
                             if (auto f = flag.lock()) f->store(true);
                           }});
  // Key and port before the lease is published; peers stay until the first full lease list.
  dev_->Configure({.private_key = key_, .listen_port = wcfg_.listen_port});
}

OwnSetup WireguardBackend::Init() {
  std::string path = wireguard::KeyFilePath(std::getenv("WIREGUARD_KEY_FILE"));
  key_ = wireguard::LoadOrCreateKey(path);
  mtu_ = wireguard::DeviceMtu(wcfg_, ext_.mtu);
  EnsureDevice();
  wg::Key pub = wg::PublicKey(key_);
  Log('I', std::string("WireGuard device ") + kDevice + " (" +
               (dev_->backend() == wg::Backend::kKernel ? "kernel" : "wireguard-go") + ") public key " + pub.Base64() +
               " port " + std::to_string(wcfg_.listen_port) + " MTU " + std::to_string(mtu_) + ", key file " + path);
  if (wcfg_.mode != wireguard::Mode::kSeparate && wcfg_.listen_port != wcfg_.listen_port_v6)
    Log('W', "wireguard Mode ipv4/auto: ListenPortV6 differs from ListenPort; flanneld peers may dial the wrong port "
             "for IPv6 endpoints");
  return {wireguard::MarshalLeaseData(pub, wcfg_.listen_port), mtu_, ""};
}

void WireguardBackend::Plumb() {
  dp_->EnsureAddress(kDevice, {own_subnet_.ip, 32}, cfg_.network);
  cni::net::Socket sk = cni::net::Socket::Open();
  cni::net::Link l = sk.GetLink(std::string(kDevice));
  if (mtu_ > 0 && l.mtu != static_cast<uint32_t>(mtu_)) sk.SetMtu(l.index, static_cast<uint32_t>(mtu_));
  // One route for the whole Network; cni0's more specific route keeps the own subnet local.
  sk.ReplaceRoute({.dst = cfg_.network.Masked(), .index = l.index, .scope = 253});
}

void WireguardBackend::ConfigureOwn(const Lease& own) {
  own_subnet_ = own.subnet;
  Plumb();
}

void WireguardBackend::Want(const Lease& peer) {
  wireguard::PeerLease pl{.subnet = peer.subnet, .public_ip = peer.attrs.public_ip,
                          .backend_type = peer.attrs.backend_type};
  if (!peer.attrs.backend_data.empty()) {
    try {
      pl.backend_data = cni::ParseJson(peer.attrs.backend_data);
    } catch (const cni::Error& e) {
      Log('E', "failed to unmarshal BackendData: " + e.msg());
      want_.erase(peer.Key());
      return;
    }
  }
  auto r = wireguard::PeerFor(pl, wcfg_.listen_port);
  if (auto* why = std::get_if<std::string>(&r)) {
    Log('W', *why);
    want_.erase(peer.Key());
    return;
  }
  auto& w = std::get<wireguard::WantedPeer>(r);
  auto it = want_.find(peer.Key());
  if (it == want_.end() || !(it->second == w))
    Log('I', "Subnet added: " + peer.subnet.String() + " via " + w.endpoint.String());
  want_[peer.Key()] = std::move(w);
}

void WireguardBackend::SetPeers(const std::vector<Lease>& peers) {
  want_.clear();
  for (const Lease& l : peers) Want(l);
  Sync();
  reconciled_ = true;
}

void WireguardBackend::AddPeer(const Lease& peer) {
  Want(peer);
  dirty_ = true;
}

void WireguardBackend::RemovePeer(const Lease& peer) {
  if (want_.erase(peer.Key())) Log('I', "Subnet removed: " + peer.subnet.String());
  dirty_ = true;
}

void WireguardBackend::Flush() {
  if (!dirty_ || !reconciled_) return;
  dirty_ = false;
  Sync();
}

size_t WireguardBackend::Sync() {
  std::vector<wireguard::WantedPeer> want;
  want.reserve(want_.size());
  for (const auto& [k, w] : want_) want.push_back(w);
  wg::Config c = wireguard::Diff(want, dev_->Get(), wcfg_, static_cast<int64_t>(std::time(nullptr)));
  programmed_ = want_.size();
  if (c.peers.empty()) return 0;
  for (const wg::PeerConfig& p : c.peers)
    if (p.remove) Log('I', "removing WireGuard peer " + p.public_key.Base64() + " (no lease wants it)");
  try {
    dev_->Configure(c);
  } catch (const cni::Error& e) {
    Log('E', std::string("failed to configure ") + kDevice + " peers: " + e.msg() + " (retried by the next check)");
    return 0;
  }
  return c.peers.size();
}

// The periodic check: the device (re-created or re-adopted when its link is gone; a dead
// wireguard-go was already restarted by the device's supervisor), its address, MTU and route,
// and the peers against the leases.
CheckResult WireguardBackend::Check() {
  CheckResult r;
  if (!reconciled_) return r;
  try {
    bool restarted = restarted_->exchange(false);
    if (!cni::net::Socket::Open().FindLink(std::string(kDevice))) {
      Log('W', std::string(kDevice) + " is gone; re-creating it");
      dev_.reset();
      EnsureDevice();
      restarted = true;
      ++r.repaired;
    }
    Plumb();
    if (restarted) Log('I', std::string(kDevice) + ": address and route restored");
    r.repaired += Sync();
  } catch (const cni::Error& e) {
    Log('E', "WireGuard check: " + e.msg());
  }
  return r;
}

}  // namespace weft::agent
