// The subnet manager: where the network config and the leases live (flanneld's
// subnet.Manager). etcd/ implements it on an etcd v3 store; a Kubernetes implementation (Node
// objects) fits the same interface. The control loop (agent/agent.h) uses only this interface
// and lease.h: it never sees keys, revisions or resource versions.
//
// Contract for implementations:
// - every call may block on the store; GetNetworkConfig is one attempt (the loop retries it),
//   AcquireLease retries by itself until it succeeds or Runtime::Stop, reporting why it waits
//   through Runtime::SetNotReady;
// - WatchLeases runs on a thread of its own and delivers, in order: a kSnapshot with every
//   lease the store holds (the own one included), then kAdded/kRemoved events, and a kSnapshot
//   again after any gap it cannot bridge (a dropped stream, a compacted revision, a relist).
//   The loop diffs each snapshot against what it programmed, so a manager never needs to
//   compute removals across a gap itself;
// - store-specific state (etcd lease ids, revisions, Node resource versions) stays inside the
//   manager; Lease::source is free text for logs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/subnet/config.h"
#include "agent/subnet/lease.h"

namespace weft::agent {

struct LeaseEvent {
  enum Kind { kSnapshot, kAdded, kRemoved } kind = kSnapshot;
  /// kSnapshot: every lease; kAdded: the new or changed lease; kRemoved: the removed lease, of
  /// which only the subnets are certain (attrs when the store still knew them).
  std::vector<Lease> leases;
};

class SubnetManager {
 public:
  virtual ~SubnetManager() = default;

  /// Where the config comes from, for messages ("/coreos.com/network/config", a file path).
  virtual std::string ConfigSource() const = 0;
  /// One attempt at reading and validating the network config. Throws cni::Error:
  /// kInvalidNetworkConfig/kDecodingFailure when the config is wrong (fatal), other codes when
  /// the store cannot be read yet (the loop retries every second).
  virtual NetworkConfig GetNetworkConfig() = 0;
  /// Acquires this node's lease carrying `attrs`. `previous` is the subnet this node had before
  /// (its current lease, or subnet.env's), which a store that allocates tries to keep. Returns
  /// the lease with its expiration; returns an empty lease only when stopped.
  virtual Lease AcquireLease(const LeaseAttrs& attrs, const std::optional<cni::IPNet>& previous) = 0;
  /// Extends the own lease, publishing `own.attrs` (which may have changed, e.g. a new
  /// VtepMAC). Returns it with its new expiration. Throws cni::Error on failure (the loop retries
  /// in a minute).
  virtual Lease RenewLease(const Lease& own) = 0;
  /// Streams lease events to `sink` (see the contract above) until Runtime::Stop.
  virtual void WatchLeases(const std::function<void(LeaseEvent)>& sink) = 0;
};

}  // namespace weft::agent
