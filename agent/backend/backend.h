// The backend: what turns leases into kernel state (flanneld's pkg/backend). vxlan/ and hostgw/
// implement it on route/neighbour/FDB entries (peer_entries.h); a backend with other kernel
// objects (WireGuard peers) implements it directly. The control loop (agent/agent.h) drives it
// through this interface only and never sees a device, a route or a MAC.
//
// Call order: Init once (before the lease exists), ConfigureOwn after every acquisition of the
// own lease, then any sequence of SetPeers/AddPeer/RemovePeer each followed by Flush, and
// Check on the loop's resync period. Calls come from the control loop's thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/iface.h"
#include "agent/subnet/config.h"
#include "agent/subnet/lease.h"

namespace weft::agent {

/// What this node publishes in its lease, and the MTU pods get (subnet.env FLANNEL_MTU).
struct OwnSetup {
  std::string backend_data;     // raw JSON (BackendData); empty when the backend has none
  int mtu = 0;
  std::string backend_v6_data;  // raw JSON (BackendV6Data) when the IPv6 side has some
};

/// The periodic data-plane check's findings.
struct CheckResult {
  size_t repaired = 0;  // kernel objects restored or removed
  /// Set when what the node publishes changed (a re-created device has another MAC): the loop
  /// renews the own lease with it.
  std::optional<std::string> backend_data;
  std::optional<std::string> backend_v6_data;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// The BackendType this backend serves ("vxlan", "host-gw").
  virtual std::string Type() const = 0;
  /// Creates or reuses this node's devices; throws cni::Error when that is impossible.
  virtual OwnSetup Init() = 0;
  /// The own lease was acquired (again, maybe with another subnet): addresses on the devices.
  virtual void ConfigureOwn(const Lease& own) = 0;
  /// The whole set of peer leases (never the own one), e.g. after a store resync: programs what
  /// is new or changed and removes what is gone. The first call also reconciles with the kernel:
  /// entries left from before (peers that vanished while weftd was down) are removed.
  virtual void SetPeers(const std::vector<Lease>& peers) = 0;
  /// A peer lease appeared or changed.
  virtual void AddPeer(const Lease& peer) = 0;
  /// A peer lease went away (only its subnets are certain).
  virtual void RemovePeer(const Lease& peer) = 0;
  /// Applies what AddPeer/RemovePeer queued since the last Flush, as one batch.
  virtual void Flush() = 0;
  /// Puts back what someone changed in the kernel (devices, addresses, peer entries) and
  /// removes strays; called periodically after the first SetPeers.
  virtual CheckResult Check() = 0;
  /// How many peers have their kernel entries programmed (usable leases of our type).
  virtual size_t ProgrammedPeers() const = 0;
};

/// The backend for `cfg.backend.type` on `ext`; throws cni::Error for a type weftd lacks.
/// `wireguard_go`: --wireguard-go (the userspace WireGuard binary; empty: "wireguard-go" on $PATH).
std::unique_ptr<Backend> MakeBackend(const NetworkConfig& cfg, const ExtIface& ext,
                                     const std::string& wireguard_go = "");

}  // namespace weft::agent
