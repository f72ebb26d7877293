// The etcd subnet manager (flanneld's pkg/subnet/etcd): the config at <prefix>/config, one key
// per lease at <prefix>/subnets/<MakeSubnetKey> holding MarshalLeaseAttrs, attached to a 24 h etcd
// lease (keys and values in flanneld's dual-stack and IPv6-only forms when the config enables
// IPv6); allocation by allocator.h inside a create-if-absent transaction; renewal by a new etcd
// lease (the replaced one is revoked); a watch of <prefix>/subnets/ from the listed revision that
// lists again after a dropped stream or a compacted revision.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/runtime.h"
#include "agent/subnet/etcd/client.h"
#include "agent/subnet/manager.h"

namespace weft::agent {

struct EtcdManagerOptions {
  EtcdOptions etcd;
  std::string prefix = "/coreos.com/network";
  int64_t lease_ttl_s = 86400;
  /// FLANNEL_IPV6_SUBNET of the old subnet.env, tried first for the IPv6 subnet (the IPv4 one
  /// comes with each AcquireLease call).
  std::optional<cni::IPNet> previous_subnet6;
};

class EtcdSubnetManager : public SubnetManager {
 public:
  EtcdSubnetManager(EtcdManagerOptions opts, Runtime& rt);

  std::string ConfigSource() const override { return opts_.prefix + "/config"; }
  NetworkConfig GetNetworkConfig() override;
  Lease AcquireLease(const LeaseAttrs& attrs, const std::optional<cni::IPNet>& previous) override;
  Lease RenewLease(const Lease& own) override;
  void WatchLeases(const std::function<void(LeaseEvent)>& sink) override;

 private:
  struct Listed {
    Lease lease;
    int64_t etcd_lease = 0;
  };
  std::vector<Listed> ListLeases(int64_t* revision);
  std::string KeyOf(const Lease& l) const { return opts_.prefix + "/subnets/" + l.Key(); }

  EtcdManagerOptions opts_;
  Runtime& rt_;
  EtcdClient etcd_;
  NetworkConfig cfg_;        // from the last GetNetworkConfig (the allocator needs it)
  int64_t own_etcd_lease_ = 0;  // the etcd lease the own key hangs on
  std::optional<cni::IPNet> previous6_;  // the IPv6 subnet to try first
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace weft::agent
