// Peer entries, diffs and the batching backend base (see peer_entries.h).
#include "agent/backend/peer_entries.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <type_traits>
#include <utility>

#include "agent/runtime.h"

namespace weft::agent {

// Entries of `have` that `want` neither holds nor replaces in place (same slot: route
// destination, neighbour IP) are deleted; entries of `want` missing from `have` are added. Sets,
// not scans: a start-up or periodic reconcile compares thousands of entries.
template <typename T, typename Slot>
static void DiffList(const std::vector<T>& have, const std::vector<T>& want, Slot slot, std::vector<T>& del,
                     std::vector<T>& add) {
  const std::set<T> want_set(want.begin(), want.end()), have_set(have.begin(), have.end());
  std::set<std::decay_t<decltype(slot(std::declval<const T&>()))>> want_slots;
  for (const T& w : want) want_slots.insert(slot(w));
  for (const T& h : have)
    if (!want_set.count(h) && !want_slots.count(slot(h))) del.push_back(h);
  for (const T& w : want)
    if (!have_set.count(w)) add.push_back(w);
}

Changes Diff(const PeerEntries& have, const PeerEntries& want) {
  Changes c;
  DiffList(have.routes, want.routes, [](const RouteEntry& r) { return r.dst; }, c.del_routes, c.add_routes);
  DiffList(have.neighs, want.neighs, [](const NeighEntry& n) { return n.ip; }, c.del_neighs, c.add_neighs);
  // FDB entries are keyed by MAC: an entry for a peer's old MAC is deleted (flanneld leaves it).
  DiffList(have.fdbs, want.fdbs, [](const FdbEntry& f) { return f; }, c.del_fdbs, c.add_fdbs);
  return c;
}

const cni::IPNet& FamilySubnet(const BackendContext& ctx, const Lease& peer) { return ctx.v6 ? peer.subnet6 : peer.subnet; }
const cni::IP& FamilyPublicIP(const BackendContext& ctx, const Lease& peer) {
  return ctx.v6 ? peer.attrs.public_ipv6 : peer.attrs.public_ip;
}
const std::string& FamilyBackendData(const BackendContext& ctx, const Lease& peer) {
  return ctx.v6 ? peer.attrs.backend_v6_data : peer.attrs.backend_data;
}

std::string ForeignTypeReason(const BackendContext& ctx, const Lease& peer) {
  const std::string& t = peer.attrs.backend_type;
  if (t != ctx.backend.type) return "BackendType \"" + t + "\" differs from ours (\"" + ctx.backend.type + "\")";
  if (!FamilySubnet(ctx, peer).ip.valid()) return ctx.v6 ? "no IPv6 subnet" : "no IPv4 subnet";
  if (!FamilyPublicIP(ctx, peer).valid()) return ctx.v6 ? "no PublicIPv6" : "no PublicIP";
  return {};
}

Changes Reconcile(const KernelState& kernel, const PeerEntries& want) {
  PeerEntries have{kernel.routes, kernel.neighs, kernel.fdbs, {}};
  std::sort(have.routes.begin(), have.routes.end());
  PeerEntries w = want;
  std::sort(w.routes.begin(), w.routes.end());
  return Diff(have, w);
}

EntryBackend::EntryBackend(std::unique_ptr<Dataplane> dp, std::string dev, cni::IPNet network)
    : dp_(std::move(dp)), dev_(std::move(dev)), network_(network) {}

PeerEntries EntryBackend::Want(const Lease& peer) const {
  PeerEntries want = EntriesFor(peer);
  if (!want.skip_reason.empty()) Log('W', "lease " + peer.String() + ": " + want.skip_reason + ", ignoring");
  return want;
}

// Batched deletions run before additions, so a later event of the same batch must cancel the
// opposite queued operation: an entry added and then removed (or the reverse) within one batch
// ends up in the state of the last event.
void EntryBackend::Merge(const Changes& c) {
  auto merge = [](auto& dels, auto& adds, const auto& new_dels, const auto& new_adds) {
    for (const auto& d : new_dels) {
      std::erase(adds, d);
      dels.push_back(d);
    }
    for (const auto& a : new_adds) {
      std::erase(dels, a);
      adds.push_back(a);
    }
  };
  merge(pending_.del_routes, pending_.add_routes, c.del_routes, c.add_routes);
  merge(pending_.del_neighs, pending_.add_neighs, c.del_neighs, c.add_neighs);
  merge(pending_.del_fdbs, pending_.add_fdbs, c.del_fdbs, c.add_fdbs);
}

void EntryBackend::Flush() {
  if (pending_.empty()) return;
  Changes c = std::move(pending_);
  pending_ = {};
  dp_->Apply(dev_, c);
}

void EntryBackend::AddPeer(const Lease& peer) {
  PeerEntries want = Want(peer);
  PeerEntries have;
  if (auto it = programmed_.find(peer.Key()); it != programmed_.end()) have = it->second;
  programmed_[peer.Key()] = want;
  Merge(Diff(have, want));
}

void EntryBackend::RemovePeer(const Lease& peer) {
  auto it = programmed_.find(peer.Key());
  if (it == programmed_.end()) return;
  Merge(Diff(it->second, {}));
  programmed_.erase(it);
}

size_t EntryBackend::ProgrammedPeers() const {
  return static_cast<size_t>(std::count_if(programmed_.begin(), programmed_.end(),
                                           [](const auto& p) { return p.second.skip_reason.empty(); }));
}

Changes EntryBackend::ReconcileWithKernel() {
  KernelState k = dp_->Dump(dev_, network_);
  std::erase_if(k.routes, [&](const RouteEntry& r) { return r.dst == own_subnet_; });
  return Reconcile(k, Union(programmed_));
}

void EntryBackend::SetPeers(const std::vector<Lease>& peers) {
  Flush();
  std::map<std::string, PeerEntries> before = std::move(programmed_);
  programmed_.clear();
  for (const Lease& l : peers) programmed_[l.Key()] = Want(l);
  if (!reconciled_) {
    Changes c = ReconcileWithKernel();
    auto t0 = std::chrono::steady_clock::now();
    dp_->Apply(dev_, c);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    Log('I', "start-up sync: " + std::to_string(programmed_.size()) + " peers, " +
                 std::to_string(c.add_routes.size()) + " routes added, " +
                 std::to_string(c.del_routes.size() + c.del_neighs.size() + c.del_fdbs.size()) +
                 " stale entries deleted in " + std::to_string(us / 1000) + "." +
                 std::to_string(us % 1000 / 100) + " ms");
    reconciled_ = true;
  } else {
    dp_->Apply(dev_, Diff(Union(before), Union(programmed_)));
  }
}

size_t EntryBackend::RepairEntries() {
  if (!reconciled_) return 0;
  Changes c = ReconcileWithKernel();
  if (c.empty()) return 0;
  size_t added = c.add_routes.size() + c.add_neighs.size() + c.add_fdbs.size();
  size_t removed = c.del_routes.size() + c.del_neighs.size() + c.del_fdbs.size();
  Log('W', "data plane drifted: restoring " + std::to_string(added) + " entries, removing " + std::to_string(removed));
  dp_->Apply(dev_, c);
  return added + removed;
}

}  // namespace weft::agent
