// weftd's core: acquire and renew this node's lease in etcd, program every peer lease into the
// kernel through a Dataplane, keep flanneld's iptables chains, write subnet.env, and report
// readiness. Peer programming is split into pure pieces (PeerEntriesFor, Diff) that the unit
// tests drive with a fake Dataplane.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "dataplane.h"
#include "etcd.h"
#include "firewall.h"
#include "iface.h"
#include "subnet.h"

namespace weft::agent {

/// The kernel entries one peer lease needs. Empty when the lease cannot be used by our backend
/// (another backend type, no VtepMAC), with `skip_reason` set.
struct PeerEntries {
  std::vector<RouteEntry> routes;
  std::vector<NeighEntry> neighs;
  std::vector<FdbEntry> fdbs;
  std::string skip_reason;
};

struct BackendContext {
  BackendConfig backend;
  std::string vxlan_dev;  // flannel.<VNI>
  std::string ext_dev;    // underlay interface
  std::function<bool(Ip4)> directly_connected = IsDirectlyConnected;
};

PeerEntries PeerEntriesFor(const BackendContext& ctx, const Lease& peer);

/// Changes that take the kernel from `have` to `want`. Entries replaced in place (same route
/// destination, same neighbour IP) are not deleted first, so traffic never sees a gap.
Changes Diff(const PeerEntries& have, const PeerEntries& want);
/// Flattens a set of peers.
PeerEntries Union(const std::map<Ip4Net, PeerEntries>& peers);
/// Start-up reconciliation: kernel entries inside the overlay that no current lease explains
/// (peers that vanished while weftd was down) are deleted, missing ones added.
Changes Reconcile(const KernelState& kernel, const PeerEntries& want);

struct AgentOptions {
  EtcdOptions etcd;
  std::string prefix = "/coreos.com/network";
  IfaceOptions iface;
  std::string subnet_file = "/run/flannel/subnet.env";
  int renew_margin_min = 60;
  bool ip_masq = false;
  bool ip_masq_random_fully = true;
  int iptables_resync_s = 5;
  bool iptables_forward_rules = true;
  std::string healthz_ip = "0.0.0.0";
  int healthz_port = 0;
  int64_t lease_ttl_s = 86400;
};

class Agent {
 public:
  Agent(AgentOptions opts, std::unique_ptr<Dataplane> dp);
  ~Agent();
  /// Runs until Stop(); throws on fatal start-up errors.
  void Run();
  void Stop();
  /// nullopt when ready; the reason otherwise (also logged).
  std::optional<std::string> NotReadyReason() const;

 private:
  struct Event {
    enum Kind { kSnapshot, kPut, kDelete } kind;
    std::vector<Lease> leases;  // snapshot: all; put: one
    Ip4Net subnet;              // delete
  };

  void SetNotReady(std::string reason);
  NetworkConfig WaitForConfig();
  void AcquireLease();
  void RenewLease();
  void ConfigureOwnSubnet(std::optional<Ip4Net> previous);
  std::vector<Lease> ListLeases(int64_t* revision);
  void WatchLoop();
  void Push(Event e);
  void Handle(const Event& e);
  void SetPeer(const Lease& l);
  void RemovePeer(const Ip4Net& sn);
  void Merge(const Changes& c);  // queue for the next Flush
  void Flush();                  // apply what is queued, in one batch
  void ResyncDataplane();        // periodic: device, address and peer entries as wanted
  std::string SubnetKey(const Ip4Net& sn) const { return opts_.prefix + "/subnets/" + sn.Key(); }

  AgentOptions opts_;
  std::unique_ptr<Dataplane> dp_;
  EtcdClient etcd_;
  NetworkConfig cfg_;
  ExtIface ext_;
  BackendContext ctx_;
  VxlanDeviceSpec vxlan_spec_;
  LeaseAttrs own_attrs_;
  Lease own_;
  int mtu_ = 0;
  std::chrono::steady_clock::time_point renew_at_;
  std::map<Ip4Net, Lease> peers_;
  std::map<Ip4Net, PeerEntries> programmed_;
  Changes pending_;
  bool reconciled_ = false;
  std::unique_ptr<RuleKeeper> rules_;
  std::optional<std::string> rules_error_;
  std::thread watcher_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  std::string not_ready_ = "starting";
};

/// Structured-enough logging to stderr: "I1127 01:50:00.123456 weftd] message".
void Log(char level, const std::string& msg);

}  // namespace weft::agent
