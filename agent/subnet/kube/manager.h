// The Kubernetes subnet manager (flanneld's pkg/subnet/kube, `--kube-subnet-mgr`): the network
// config from net-conf.json (flanneld's ParseConfig, without the etcd manager's
// CheckNetworkConfig defaults), the own subnets from the Node's spec.podCIDR(s) (the IPv4 one,
// the IPv6 one, or both, as EnableIPv4/EnableIPv6 say), the own lease
// published as annotations with a strategic-merge PATCH of nodes/<name>/status, the
// NetworkUnavailable=False condition once the first peer list was handed over, and the peers as
// a list + watch of all Nodes (only those annotated kube-subnet-manager=true; an update only
// when backend data/type or public IP of an enabled family changed; a removal on delete). A watch that ends is
// resumed from the last resourceVersion; 410 Gone lists again and the loop diffs the snapshot.
// Node rules are in node.h, the HTTP side in client.h, where to connect in connection.h.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "agent/runtime.h"
#include "agent/subnet/kube/client.h"
#include "agent/subnet/kube/node.h"
#include "agent/subnet/kube/options.h"
#include "agent/subnet/manager.h"

namespace weft::agent::kube {

class KubeSubnetManager : public SubnetManager {
 public:
  /// Builds the connection (fatal errors thrown: a bad kubeconfig, a bad prefix, no node name).
  KubeSubnetManager(KubeOptions opts, Runtime& rt);

  /// Finds the node name (pods/get when only POD_NAME/POD_NAMESPACE are set) and reads the own
  /// Node once for what the start needs before the backend exists: the stored VtepMAC and the
  /// node-public-ip annotation. Retries while the API server is unreachable (reason on
  /// /readyz); throws on RBAC or config errors. A missing Node is not an error here.
  void Start();
  const std::string& node_name() const { return node_name_; }
  /// The VtepMAC of the own backend-data annotation read by Start (a restart keeps the MAC).
  std::optional<std::string> stored_vtep_mac() const { return stored_mac_; }
  /// The VtepMAC of the own backend-v6-data annotation (the MAC of flannel-v6.<VNI>).
  std::optional<std::string> stored_vtep_mac6() const { return stored_mac6_; }
  /// The node-public-ip annotation read by Start (replaces --public-ip).
  std::optional<cni::IP> stored_public_ip() const { return stored_public_ip_; }
  /// The node-public-ipv6 annotation read by Start (replaces --public-ipv6).
  std::optional<cni::IP> stored_public_ip6() const { return stored_public_ip6_; }

  std::string ConfigSource() const override { return opts_.net_config_path; }
  NetworkConfig GetNetworkConfig() override;
  Lease AcquireLease(const LeaseAttrs& attrs, const std::optional<cni::IPNet>& previous) override;
  Lease RenewLease(const Lease& own) override;
  void WatchLeases(const std::function<void(LeaseEvent)>& sink) override;

 private:
  std::string NodePath() const { return "/api/v1/nodes/" + node_name_; }
  /// Runs `fn` until it returns without a retryable error (unreachable, 5xx): backoff 100 ms →
  /// 5 s with the reason on /readyz. Other errors are thrown. False when stopped.
  bool Retry(const std::string& what, const std::function<void()>& fn);
  /// Publishes `attrs` on the own Node when an annotation differs (retried).
  void Publish(const Node& node, const LeaseAttrs& attrs);
  /// Lists every Node (remembered in known_); returns the leases of the managed, usable ones.
  std::vector<Lease> List(std::string* resource_version);
  /// A watch event: updates known_ and tells the sink what changed for peers.
  void OnEvent(const std::string& type, const nlohmann::json& obj, std::string& rv,
               const std::function<void(LeaseEvent)>& sink);
  /// The lease of a managed Node, or nullopt (logged) when it is malformed. The own Node's
  /// lease carries the attributes this node published (its public-ip(v6) annotation may hold a
  /// public-ip(v6)-overwrite value, which the loop would take for another writer).
  std::optional<Lease> LeaseOf(const Node& n);
  void SetNetworkAvailable();
  /// The families of the network config (read by GetNetworkConfig).
  Stack stack() const { return {cfg_.enable_ipv4, cfg_.enable_ipv6}; }

  KubeOptions opts_;
  Runtime& rt_;
  Annotations ann_;
  Client client_;
  std::string node_name_;
  std::optional<std::string> stored_mac_, stored_mac6_;
  std::optional<cni::IP> stored_public_ip_, stored_public_ip6_;
  NetworkConfig cfg_;
  std::optional<std::chrono::steady_clock::time_point> first_list_failure_;
  bool synced_ = false;
  /// Nodes seen by the list/watch, by name, with their lease when they had a usable one.
  struct Known {
    Node node;
    std::optional<Lease> lease;
  };
  std::map<std::string, Known> known_;
  bool condition_set_ = false;
  std::mutex own_mu_;  // own_attrs_: set by the loop thread, read by the watch thread
  std::optional<LeaseAttrs> own_attrs_;
};

}  // namespace weft::agent::kube
