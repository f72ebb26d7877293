// The machinery shared by the backends whose peers are routes, neighbours and FDB entries
// (vxlan, host-gw): the entries one peer needs, the change set between two states (Diff), the
// start-up and periodic reconciliation against a kernel dump (Reconcile), and EntryBackend,
// which keeps what each peer has programmed, batches changes and applies them through a
// Dataplane. A concrete backend only says which entries a lease needs (EntriesFor) and sets up
// its devices. The pure pieces are unit-tested with no kernel.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/backend/backend.h"
#include "agent/backend/kernel.h"
#include "agent/iface.h"

namespace weft::agent {

/// The kernel entries one peer lease needs. Empty when the lease cannot be used by the backend
/// (another backend type, no VtepMAC), with `skip_reason` set.
struct PeerEntries {
  std::vector<RouteEntry> routes;
  std::vector<NeighEntry> neighs;
  std::vector<FdbEntry> fdbs;
  std::string skip_reason;
};

/// Changes that take the kernel from `have` to `want`. Entries replaced in place (same route
/// destination, same neighbour IP) are not deleted first, so traffic never sees a gap.
Changes Diff(const PeerEntries& have, const PeerEntries& want);
/// Flattens a set of peers.
template <typename Key>
PeerEntries Union(const std::map<Key, PeerEntries>& peers) {
  PeerEntries u;
  for (const auto& [k, e] : peers) {
    u.routes.insert(u.routes.end(), e.routes.begin(), e.routes.end());
    u.neighs.insert(u.neighs.end(), e.neighs.begin(), e.neighs.end());
    u.fdbs.insert(u.fdbs.end(), e.fdbs.begin(), e.fdbs.end());
  }
  return u;
}
/// What the entry backends need to turn a lease into entries: the config, the device names, and
/// the DirectRouting test (replaceable in tests).
struct BackendContext {
  BackendConfig backend;
  std::string vxlan_dev;  // flannel.<VNI>; empty for host-gw
  std::string ext_dev;    // underlay interface
  bool v6 = false;        // this backend programs the IPv6 side of the leases (subnet6, PublicIPv6, BackendV6Data)
  std::function<bool(const cni::IP&)> directly_connected = IsDirectlyConnected;
};

/// The side of `peer` that ctx's family programs: its subnet (ip invalid when the lease has none
/// of that family), public address and backend data.
const cni::IPNet& FamilySubnet(const BackendContext& ctx, const Lease& peer);
const cni::IP& FamilyPublicIP(const BackendContext& ctx, const Lease& peer);
const std::string& FamilyBackendData(const BackendContext& ctx, const Lease& peer);

/// The skip reason for a lease of another backend type than ctx's, or without a subnet of ctx's
/// family (a v4-only node seen by the IPv6 side), if it is one.
std::string ForeignTypeReason(const BackendContext& ctx, const Lease& peer);

/// Start-up reconciliation: kernel entries inside the overlay that no current lease explains
/// (peers that vanished while weftd was down) are deleted, missing ones added.
Changes Reconcile(const KernelState& kernel, const PeerEntries& want);

class EntryBackend : public Backend {
 public:
  void SetPeers(const std::vector<Lease>& peers) override;
  void AddPeer(const Lease& peer) override;
  void RemovePeer(const Lease& peer) override;
  void Flush() override;
  size_t ProgrammedPeers() const override;

 protected:
  /// `dev`: the device neighbours and FDB entries live on ("" when the backend has none);
  /// `network`: the overlay, whose routes a kernel dump covers.
  EntryBackend(std::unique_ptr<Dataplane> dp, std::string dev, cni::IPNet network);
  bool reconciled() const { return reconciled_; }
  virtual PeerEntries EntriesFor(const Lease& peer) const = 0;
  /// The own subnet: its route (if any) is not a peer's and is left alone by reconciliation.
  void SetOwnSubnet(const cni::IPNet& sn) { own_subnet_ = sn; }
  const cni::IPNet& own_subnet() const { return own_subnet_; }
  /// Dumps the kernel and applies what differs from the programmed peers; returns how many
  /// entries were restored or removed. Does nothing before the first SetPeers.
  size_t RepairEntries();
  Dataplane& dataplane() { return *dp_; }
  const std::string& dev() const { return dev_; }
  const cni::IPNet& network() const { return network_; }

 private:
  PeerEntries Want(const Lease& peer) const;  // EntriesFor, skip reasons logged
  void Merge(const Changes& c);               // queue for the next Flush
  Changes ReconcileWithKernel();

  std::unique_ptr<Dataplane> dp_;
  std::string dev_;
  cni::IPNet network_, own_subnet_;
  std::map<std::string, PeerEntries> programmed_;  // by Lease::Key()
  Changes pending_;
  bool reconciled_ = false;
};

}  // namespace weft::agent
