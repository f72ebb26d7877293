// The WireGuard backend (flanneld's pkg/backend/wireguard, k3s's wireguard-native): the devices
// of the Mode (peers.h Tunnels: flannel-wg and, in separate dual stack or IPv6 only,
// flannel-wg-v6 with ListenPortV6; one flannel-wg carrying both families in auto/ipv4/ipv6),
// kernel or wireguard-go (cni::net::wg::EnsureDevice picks), all with the node's one key
// (config.h); on each device the own subnet's network address of every family it carries (/32,
// /128) and one scope-link route for the whole Network / IPv6Network (WireGuard's allowed IPs
// pick the peer, so no per-peer routes); one peer per lease and device (peers.h). BackendData is
// {"PublicKey":"…","Port":ListenPort} when IPv4 is enabled, BackendV6Data
// {"PublicKey":"…","Port":ListenPortV6} when IPv6 is, in every Mode, as flanneld writes them.
//
// Unlike flanneld: an existing device is adopted (a restart keeps every session; flanneld
// deletes and re-creates it), the peer set is replaced once after the first full lease list
// (peers of nodes that left while weftd was down go), a changed key replaces the old peer, and
// the periodic check re-adds peers, address and route that someone removed. A wireguard-go that
// dies is restarted by the device's supervisor; the next check re-plumbs its new link. And it
// fails closed: an unreachable route per network under the device route (config.h
// kFailClosedMetric), made before the devices and kept by the check, drops pod traffic to other
// nodes whenever a device route is gone, where flanneld sends it in cleartext by the default route.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

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
  struct Dev {
    wireguard::Tunnel t;
    std::unique_ptr<cni::net::wg::Device> dev{};
    std::map<std::string, wireguard::WantedPeer> want{};  // by lease key; only usable leases
    std::shared_ptr<std::atomic<bool>> restarted = std::make_shared<std::atomic<bool>>(false);
  };
  void Want(Dev& d, const Lease& peer);
  void EnsureDevice(Dev& d);
  void Plumb(const Dev& d);
  size_t EnsureFailClosed(bool startup);
  size_t Sync(Dev& d);
  void Count();

  NetworkConfig cfg_;
  ExtIface ext_;
  std::string wireguard_go_;
  wireguard::Config wcfg_;
  cni::net::wg::Key key_{};
  int mtu_ = 0;
  std::vector<Dev> devs_;
  std::unique_ptr<Dataplane> dp_;
  cni::IPNet own_subnet_, own_subnet6_;
  bool dirty_ = false;
  bool reconciled_ = false;
  size_t programmed_ = 0;
};

}  // namespace weft::agent
