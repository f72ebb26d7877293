// weftd's control loop (see agent.h). One thread owns all state: it acquires the lease, then
// handles the watch thread's lease events and two timers (lease renewal, firewall and data-plane
// check). The manager's watch delivers a full snapshot after any gap, which is diffed against
// what is programmed, so the loop converges whatever was missed.
#include "agent/agent.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "agent/subnet/subnet_env.h"
#include "cni/error.h"
#include "cni/files.h"

namespace weft::agent {

using Clock = std::chrono::steady_clock;

namespace {

// flanneld (v0.26+, iptables mode only) exits when br_netfilter is missing for an enabled family:
// without it, pod-to-pod traffic on cni0 bypasses the FORWARD rules. The files are per network
// namespace, so this reads the node's own view.
void CheckBrNetfilter(bool ipv4, bool ipv6) {
  for (auto [on, file] : {std::pair{ipv4, "/proc/sys/net/bridge/bridge-nf-call-iptables"},
                          std::pair{ipv6, "/proc/sys/net/bridge/bridge-nf-call-ip6tables"}})
    if (on && access(file, F_OK) != 0)
      throw cni::Error(cni::kInvalidEnvironment, std::string("Failed to check br_netfilter: stat ") + file +
                                                     ": no such file or directory");
}

// Whether a lease under the own key was written by this node (both public addresses match).
bool SameOwner(const LeaseAttrs& a, const LeaseAttrs& own) {
  return a.public_ip == own.public_ip && a.public_ipv6 == own.public_ipv6;
}

}  // namespace

Agent::Agent(LoopOptions opts, Runtime& rt, SubnetManager& manager, BackendFactory make_backend)
    : opts_(std::move(opts)), rt_(rt), manager_(manager), make_backend_(std::move(make_backend)) {}

Agent::~Agent() {
  Stop();
  if (watcher_.joinable()) watcher_.join();
}

void Agent::Stop() {
  rt_.Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);  // a waiter between its check and its wait sees it
  }
  cv_.notify_all();
}

NetworkConfig Agent::WaitForConfig() {
  while (!rt_.stopped()) {
    try {
      return manager_.GetNetworkConfig();
    } catch (const cni::Error& e) {
      if (e.code() == cni::kInvalidNetworkConfig || e.code() == cni::kDecodingFailure) throw;
      rt_.SetNotReady("waiting for the network config " + manager_.ConfigSource() + ": " + e.msg());
    }
    rt_.SleepFor(std::chrono::seconds(1));
  }
  throw cni::Error(cni::kInternal, "stopped");
}

void Agent::AcquireLease(std::optional<cni::IPNet> previous) {
  Lease l = manager_.AcquireLease(own_attrs_, previous);
  if (rt_.stopped()) return;
  own_ = std::move(l);
  renew_at_ = own_.expiration - std::chrono::minutes(opts_.renew_margin_min);
}

void Agent::RenewLease() {
  try {
    Lease l = manager_.RenewLease(own_);
    own_ = std::move(l);
    renew_at_ = own_.expiration - std::chrono::minutes(opts_.renew_margin_min);
    Log('I', "renewed lease " + own_.String());
  } catch (const cni::Error& e) {
    Log('E', "renewing lease " + own_.String() + ": " + e.msg() + "; retrying in 1 minute");
    renew_at_ = Clock::now() + std::chrono::minutes(1);
  }
}

void Agent::ConfigureOwnSubnet(std::optional<cni::IPNet> previous) {
  backend_->ConfigureOwn(own_);
  if (rules_) {
    try {
      if (cfg_.enable_ipv4) rules_->Set(cni::fw::Family::kIPv4, cfg_.network, own_.subnet);
      if (cfg_.enable_ipv6) rules_->Set(cni::fw::Family::kIPv6, cfg_.ipv6_network, own_.subnet6);
      rules_error_.reset();
    } catch (const cni::Error& e) {
      rules_error_ = std::string(rules_->Name()) + ": " + e.msg();
      Log('E', *rules_error_);
    }
  }
  if (previous && *previous != own_.subnet)
    Log('W', "subnet changed from " + previous->String() + " to " + own_.subnet.String() +
                 ": pods on the old cni0 subnet need the bridge re-created");
  const std::string env =
      RenderSubnetEnv(cfg_.network, own_.subnet, mtu_, opts_.ip_masq, cfg_.ipv6_network, own_.subnet6);
  size_t slash = opts_.subnet_file.rfind('/');
  if (slash != std::string::npos && slash > 0) cni::EnsureDir(opts_.subnet_file.substr(0, slash), 0755);
  cni::WriteFileAtomic(opts_.subnet_file, env, 0644);
  Log('I', "wrote " + opts_.subnet_file + " (subnet " + own_.String() + ", MTU " + std::to_string(mtu_) + ")");
}

// flanneld exits 0 when its lease is revoked ("Lease has been revoked"), which systemd's
// Restart=on-failure does not restart; weftd takes its subnet back instead.
void Agent::ReacquireOwn(const std::string& why) {
  Log('W', "own lease " + own_.String() + " " + why + "; acquiring it again");
  cni::IPNet old = own_.subnet;
  AcquireLease(old);
  if (own_.subnet != old) ConfigureOwnSubnet(old);
}

void Agent::Push(LeaseEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(e), Clock::now()});
  }
  cv_.notify_all();
}

bool Agent::Handle(const LeaseEvent& e) {
  const std::string own_key = own_.Key();
  switch (e.kind) {
    case LeaseEvent::kSnapshot: {
      bool own_present = false;
      std::map<std::string, Lease> next;
      for (const Lease& l : e.leases) {
        if (l.Key() == own_key) own_present = own_present || SameOwner(l.attrs, own_attrs_);
        else next[l.Key()] = l;
      }
      peers_ = std::move(next);
      std::vector<Lease> all;
      all.reserve(peers_.size());
      for (const auto& [k, l] : peers_) all.push_back(l);
      backend_->SetPeers(all);
      if (!own_present) ReacquireOwn("is gone from the store");
      return true;
    }
    case LeaseEvent::kAdded: {
      const Lease& l = e.leases.front();
      if (l.Key() == own_key) {
        if (!SameOwner(l.attrs, own_attrs_))
          Log('E', "own subnet " + l.String() + " was written by " + l.attrs.public_ip.String());
        return false;
      }
      auto it = peers_.find(l.Key());
      bool known = it != peers_.end() && it->second.attrs == l.attrs;
      peers_[l.Key()] = l;
      if (!known)
        Log('I', "peer " + l.String() + " at " + l.attrs.public_ip.String() + (l.source.empty() ? "" : " (" + l.source + ")"));
      backend_->AddPeer(l);
      return true;
    }
    case LeaseEvent::kRemoved: {
      const Lease& l = e.leases.front();
      if (l.Key() == own_key) {
        ReacquireOwn("was revoked");
        return false;
      }
      auto it = peers_.find(l.Key());
      if (it == peers_.end()) return false;
      Log('I', "peer " + l.String() + " removed");
      backend_->RemovePeer(it->second);
      peers_.erase(it);
      return true;
    }
  }
  return false;
}

void Agent::CheckDataplane() {
  CheckResult r = backend_->Check();
  if (r.repaired) rt_.metrics().DataplaneRepairs(r.repaired);
  if (r.backend_data || r.backend_v6_data) {
    if (r.backend_data) own_attrs_.backend_data = *r.backend_data;
    if (r.backend_v6_data) own_attrs_.backend_v6_data = *r.backend_v6_data;
    own_.attrs = own_attrs_;
    RenewLease();
  }
}

// flanneld's step 10: the other mode's leftovers go first (nftables tables in iptables mode,
// the iptables chains in nftables mode), then the chosen mode's keeper. A failed clean-up is
// logged, not fatal (flanneld logs it too).
void Agent::SetUpFirewall() {
  const FirewallOptions fw{opts_.ip_masq, opts_.iptables_forward_rules, opts_.ip_masq_random_fully};
  try {
    if (cfg_.enable_nftables) DeleteIptablesChains();
    else DeleteNftTables();
  } catch (const cni::Error& e) {
    Log('W', std::string("removing the ") + (cfg_.enable_nftables ? "iptables" : "nftables") + " leftovers: " + e.msg());
  }
  if (!opts_.ip_masq && !opts_.iptables_forward_rules) return;
  if (cfg_.enable_nftables) {
    Log('I', "starting in nftables mode");
    rules_ = std::make_unique<NftKeeper>(fw);
    return;
  }
  auto backend = cni::fw::MakeIptablesBackend(cni::fw::DetectIptablesKind());
  if (backend) rules_ = std::make_unique<RuleKeeper>(std::move(backend), fw);
}

void Agent::Run() {
  rt_.SetNotReady("waiting for the network config " + manager_.ConfigSource());
  std::optional<cni::IPNet> previous;
  if (auto text = cni::ReadFile(opts_.subnet_file)) previous = ReadPreviousSubnet(*text);
  cfg_ = WaitForConfig();
  if (rt_.stopped()) return;
  if (!cfg_.enable_nftables) CheckBrNetfilter(cfg_.enable_ipv4, cfg_.enable_ipv6);
  IfaceOptions iface = opts_.iface;
  iface.ipv4 = cfg_.enable_ipv4;
  iface.ipv6 = cfg_.enable_ipv6;
  ext_ = LookupExtIface(iface);
  Log('I', "using interface " + ext_.name + " (" + (cfg_.enable_ipv4 ? ext_.addr.String() : ext_.addr6.String()) +
               "), public IP " + (cfg_.enable_ipv4 ? ext_.public_ip.String() : "none") +
               (cfg_.enable_ipv6 ? ", public IPv6 " + ext_.public_ip6.String() : ""));
  backend_ = make_backend_(cfg_, ext_);
  own_attrs_.public_ip = cfg_.enable_ipv4 ? ext_.public_ip : cni::IP::V4(0);
  if (cfg_.enable_ipv6) own_attrs_.public_ipv6 = ext_.public_ip6;
  own_attrs_.backend_type = backend_->Type();
  OwnSetup setup = backend_->Init();
  own_attrs_.backend_data = setup.backend_data;
  own_attrs_.backend_v6_data = setup.backend_v6_data;
  mtu_ = setup.mtu;
  SetUpFirewall();
  AcquireLease(previous);
  if (rt_.stopped()) return;
  ConfigureOwnSubnet(previous);
  watcher_ = std::thread([this] { manager_.WatchLeases([this](LeaseEvent e) { Push(std::move(e)); }); });

  auto next_check = Clock::now() + std::chrono::seconds(opts_.iptables_resync_s);
  bool first_snapshot = false;
  while (!rt_.stopped()) {
    std::deque<Queued> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, std::min(renew_at_, next_check), [&] { return rt_.stopped() || !queue_.empty(); });
      batch.swap(queue_);
    }
    // Every event of a wake-up lands in one data-plane batch (one ip and one bridge run for
    // a burst of a thousand leases).
    std::vector<Clock::time_point> peer_events;
    for (const Queued& q : batch) {
      try {
        if (Handle(q.event)) peer_events.push_back(q.received);
        if (q.event.kind == LeaseEvent::kSnapshot) first_snapshot = true;
      } catch (const cni::Error& err) {
        Log('E', "handling lease event: " + err.msg());
      }
    }
    try {
      backend_->Flush();
    } catch (const cni::Error& err) {
      Log('E', "programming peers: " + err.msg());
    }
    if (!peer_events.empty()) {
      const auto done = Clock::now();
      for (auto t : peer_events) rt_.metrics().ObserveEventToKernel(done - t);
      rt_.metrics().SetPeers(peers_.size(), backend_->ProgrammedPeers());
    }
    auto now = Clock::now();
    if (now >= renew_at_) RenewLease();
    if (now >= next_check) {
      if (rules_) {
        try {
          if (auto missing = rules_->Resync()) {
            Log('W', std::string(rules_->Name()) + " rules were missing (" + *missing + "); restored");
            rt_.metrics().IptablesRepair();
          }
          rules_error_.reset();
        } catch (const cni::Error& err) {
          rules_error_ = std::string(rules_->Name()) + ": " + err.msg();
          Log('E', *rules_error_);
        }
      }
      try {
        CheckDataplane();
      } catch (const cni::Error& err) {
        Log('E', "data plane check: " + err.msg());
      }
      next_check = now + std::chrono::seconds(opts_.iptables_resync_s);
    }
    if (rules_error_) rt_.SetNotReady(*rules_error_);
    else if (!first_snapshot) rt_.SetNotReady("waiting for the first list of leases");
    else rt_.SetNotReady("");
  }
}

}  // namespace weft::agent
