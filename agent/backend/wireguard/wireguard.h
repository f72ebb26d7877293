// The WireGuard backend (flanneld's pkg/backend/wireguard, k3s's wireguard-native): the device
// flannel-wg, kernel or wireguard-go (cni::net::wg::EnsureDevice picks), with the node's key
// (config.h) and ListenPort; the own subnet's network address as a /32 on it and one scope-link
// route for the whole Network (WireGuard's allowed IPs pick the peer, so no per-peer routes);
// one peer per lease (peers.h). BackendData is {"PublicKey":"…","Port":N}. weftd is IPv4-only,
// so every Mode but ipv6 runs the one v4 device.
//
// Unlike flanneld: an existing device is adopted (a restart keeps every session; flanneld
// deletes and re-creates it), the peer set is replaced once after the first full lease list
// (peers of nodes that left while weftd was down go), a changed key replaces the old peer, and
// the periodic check re-adds peers, address and route that someone removed. A wireguard-go that
// dies is restarted by the device's supervisor; the next check re-plumbs its new link.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "agent/backend/backend.h"
#include "agent/backend/kernel.h"
#include "agent/backend/wireguard/peers.h"

namespace weft::agent {

class WireguardBackend : public Backend {
 public:
  /// `wireguard_go`: the --wireguard-go binary (empty: found on $PATH) when the kernel has no
  /// WireGuard.
  WireguardBackend(const NetworkConfig& cfg, const ExtIface& ext, std::string wireguard_go);
  ~WireguardBackend() override;
  std::string Type() const override { return "wireguard"; }
  OwnSetup Init() override;
  void ConfigureOwn(const Lease& own) override;
  void SetPeers(const std::vector<Lease>& peers) override;
  void AddPeer(const Lease& peer) override;
  void RemovePeer(const Lease& peer) override;
  void Flush() override;
  CheckResult Check() override;
  size_t ProgrammedPeers() const override { return programmed_; }

 private:
  void Want(const Lease& peer);
  void EnsureDevice();
  void Plumb();
  size_t Sync();

  NetworkConfig cfg_;
  ExtIface ext_;
  std::string wireguard_go_;
  wireguard::Config wcfg_;
  cni::net::wg::Key key_{};
  int mtu_ = 0;
  std::unique_ptr<cni::net::wg::Device> dev_;
  std::unique_ptr<Dataplane> dp_;
  cni::IPNet own_subnet_;
  std::map<std::string, wireguard::WantedPeer> want_;  // by lease key; only usable leases
  bool dirty_ = false;
  bool reconciled_ = false;
  size_t programmed_ = 0;
  std::shared_ptr<std::atomic<bool>> restarted_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace weft::agent
