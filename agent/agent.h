// weftd's control loop, which knows neither the store nor the backend: it reads the network
// config and acquires this node's lease through a SubnetManager (subnet/manager.h), hands the
// peer leases to a Backend (backend/backend.h), keeps flanneld's iptables or nftables rules, writes
// subnet.env, renews the lease, runs the periodic data-plane check and reports readiness.
// main() wires a concrete manager and backend factory to it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/backend/backend.h"
#include "agent/firewall.h"
#include "agent/iface.h"
#include "agent/runtime.h"
#include "agent/subnet/manager.h"

namespace weft::agent {

/// The loop's settings (the store's own settings go to its manager).
struct LoopOptions {
  IfaceOptions iface;
  std::string subnet_file = "/run/flannel/subnet.env";
  int renew_margin_min = 60;
  bool ip_masq = false;
  bool ip_masq_random_fully = true;
  int iptables_resync_s = 5;
  bool iptables_forward_rules = true;
};

/// Makes the backend once the config and the external interface are known.
using BackendFactory = std::function<std::unique_ptr<Backend>(const NetworkConfig&, const ExtIface&)>;

class Agent {
 public:
  Agent(LoopOptions opts, Runtime& rt, SubnetManager& manager, BackendFactory make_backend);
  ~Agent();
  /// Runs until Stop(); throws on fatal start-up errors.
  void Run();
  void Stop();

 private:
  NetworkConfig WaitForConfig();
  void AcquireLease(std::optional<cni::IPNet> previous);
  void RenewLease();
  void SetUpFirewall();
  void ConfigureOwnSubnet(std::optional<cni::IPNet> previous);
  void ReacquireOwn(const std::string& why);
  void Push(LeaseEvent e);
  /// Returns whether the event was about peers (and so leads to kernel entries).
  bool Handle(const LeaseEvent& e);
  void CheckDataplane();  // periodic: the backend's check, republishing what it changed

  LoopOptions opts_;
  Runtime& rt_;
  SubnetManager& manager_;
  BackendFactory make_backend_;
  std::unique_ptr<Backend> backend_;
  NetworkConfig cfg_;
  ExtIface ext_;
  LeaseAttrs own_attrs_;
  Lease own_;
  int mtu_ = 0;
  std::chrono::steady_clock::time_point renew_at_;
  std::map<std::string, Lease> peers_;  // by Lease::Key()
  std::unique_ptr<FirewallKeeper> rules_;
  std::optional<std::string> rules_error_;
  std::thread watcher_;

  std::mutex mu_;
  std::condition_variable cv_;
  struct Queued {
    LeaseEvent event;
    std::chrono::steady_clock::time_point received;  // for the event-to-kernel histogram
  };
  std::deque<Queued> queue_;
};

}  // namespace weft::agent
