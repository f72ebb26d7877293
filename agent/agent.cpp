// weftd's control loop (see agent.h). One thread owns all state: it acquires the lease, then
// handles the watch thread's events and two timers (lease renewal, firewall re-check). The watch
// thread lists <prefix>/subnets/, streams changes from the next revision, and on a dropped
// stream or a compacted revision lists again, so the control loop always converges on a full
// snapshot (diffed against what is programmed) after any gap.
#include "agent.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>
#include <type_traits>
#include <utility>

#include "cni/error.h"
#include "cni/files.h"

namespace weft::agent {

using Clock = std::chrono::steady_clock;

void Log(char level, const std::string& msg) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char head[64];
  std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%06ld weftd] ", level, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(tv.tv_usec));
  std::cerr << head << msg << '\n' << std::flush;
}

// ---------------------------------------------------------------------------------------------
// Pure peer programming.

PeerEntries PeerEntriesFor(const BackendContext& ctx, const Lease& peer) {
  PeerEntries e;
  const LeaseAttrs& a = peer.attrs;
  if (a.backend_type != ctx.backend.type) {
    e.skip_reason = "BackendType \"" + a.backend_type + "\" differs from ours (\"" + ctx.backend.type + "\")";
    return e;
  }
  bool direct = ctx.backend.type == "host-gw" ||
                (ctx.backend.direct_routing && ctx.directly_connected(a.public_ip));
  if (direct) {
    e.routes.push_back({peer.subnet, a.public_ip, ctx.ext_dev, false});
    return e;
  }
  if (!a.vtep_mac) {
    e.skip_reason = "no VtepMAC in BackendData";
    return e;
  }
  e.neighs.push_back({peer.subnet.ip, *a.vtep_mac});
  e.fdbs.push_back({*a.vtep_mac, a.public_ip});
  e.routes.push_back({peer.subnet, peer.subnet.ip, ctx.vxlan_dev, true});
  return e;
}

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

PeerEntries Union(const std::map<Ip4Net, PeerEntries>& peers) {
  PeerEntries u;
  for (const auto& [sn, e] : peers) {
    u.routes.insert(u.routes.end(), e.routes.begin(), e.routes.end());
    u.neighs.insert(u.neighs.end(), e.neighs.begin(), e.neighs.end());
    u.fdbs.insert(u.fdbs.end(), e.fdbs.begin(), e.fdbs.end());
  }
  return u;
}

Changes Reconcile(const KernelState& kernel, const PeerEntries& want) {
  PeerEntries have{kernel.routes, kernel.neighs, kernel.fdbs, {}};
  std::sort(have.routes.begin(), have.routes.end());
  PeerEntries w = want;
  std::sort(w.routes.begin(), w.routes.end());
  return Diff(have, w);
}

// ---------------------------------------------------------------------------------------------
// The agent.

Agent::Agent(AgentOptions opts, std::unique_ptr<Dataplane> dp)
    : opts_(std::move(opts)), dp_(std::move(dp)), etcd_(opts_.etcd) {
  while (!opts_.prefix.empty() && opts_.prefix.back() == '/') opts_.prefix.pop_back();
}

Agent::~Agent() {
  Stop();
  if (watcher_.joinable()) watcher_.join();
}

void Agent::Stop() {
  stop_ = true;
  cv_.notify_all();
}

std::optional<std::string> Agent::NotReadyReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (not_ready_.empty()) return std::nullopt;
  return not_ready_;
}

void Agent::SetNotReady(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (not_ready_ == reason) return;
    not_ready_ = reason;
  }
  if (reason.empty()) Log('I', "ready");
  else Log('W', "not ready: " + reason);
}

NetworkConfig Agent::WaitForConfig() {
  const std::string key = opts_.prefix + "/config";
  while (!stop_) {
    try {
      auto kv = etcd_.Get(key);
      if (!kv)
        throw cni::Error(cni::kIOFailure,
                         "flannel config not found in etcd store. Did you create your config using etcdv3 API?");
      return ParseNetworkConfig(kv->value);
    } catch (const cni::Error& e) {
      if (e.code() == cni::kInvalidNetworkConfig || e.code() == cni::kDecodingFailure) throw;
      SetNotReady("waiting for the network config " + key + ": " + e.msg());
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_.load(); });
  }
  throw cni::Error(cni::kInternal, "stopped");
}

std::vector<Lease> Agent::ListLeases(int64_t* revision) {
  RangeResult r = etcd_.GetPrefix(opts_.prefix + "/subnets/");
  if (revision) *revision = r.revision;
  std::vector<Lease> out;
  for (const KeyValue& kv : r.kvs) {
    auto sn = Ip4Net::ParseKey(kv.key);
    auto attrs = ParseLeaseAttrs(kv.value);
    if (!sn || !attrs) {
      Log('W', "ignoring malformed lease " + kv.key);
      continue;
    }
    out.push_back({*sn, *attrs, kv.lease});
  }
  return out;
}

void Agent::AcquireLease() {
  std::optional<Ip4Net> previous;
  if (own_.subnet.len) previous = own_.subnet;
  else if (auto text = cni::ReadFile(opts_.subnet_file)) previous = ReadPreviousSubnet(*text);
  const std::string value = MarshalLeaseAttrs(own_attrs_);
  for (int attempt = 1; !stop_; ++attempt) {
    try {
      std::vector<Lease> leases = ListLeases(nullptr);
      AllocationChoice choice = ChooseSubnet(cfg_, leases, own_attrs_.public_ip, previous, rng_);
      for (const Ip4Net& stale : choice.stale_own) {
        Log('I', "deleting own lease " + stale.String() + " that does not fit the config");
        etcd_.Delete(SubnetKey(stale));
      }
      int64_t id = etcd_.GrantLease(opts_.lease_ttl_s);
      const std::string key = SubnetKey(choice.subnet);
      bool ok = true;
      if (choice.kind == AllocationChoice::kReuseOwn) {
        etcd_.Put(key, value, id);
      } else if (!etcd_.CreateIfAbsent(key, value, id)) {
        ok = false;
        etcd_.RevokeLease(id);
        // flanneld gives up here and exits; the subnet was taken between list and create.
        Log('W', "lost the race for " + choice.subnet.String() + " (attempt " + std::to_string(attempt) +
                     "), retrying");
      }
      if (ok) {
        // The etcd lease the key hung on before (a previous run's, or this run's before the key
        // was deleted) holds no key any more: revoke it instead of leaving it for a day.
        std::set<int64_t> replaced = {own_.etcd_lease};
        if (choice.kind == AllocationChoice::kReuseOwn)
          for (const Lease& l : leases)
            if (l.subnet == choice.subnet) replaced.insert(l.etcd_lease);
        for (int64_t old : replaced) {
          if (old == 0 || old == id) continue;
          try {
            etcd_.RevokeLease(old);
          } catch (const cni::Error& e) {
            Log('W', "revoking the replaced etcd lease: " + e.msg());
          }
        }
        own_ = {choice.subnet, own_attrs_, id};
        renew_at_ = Clock::now() + std::chrono::seconds(opts_.lease_ttl_s - opts_.renew_margin_min * 60);
        const char* how = choice.kind == AllocationChoice::kReuseOwn       ? "reusing own lease "
                          : choice.kind == AllocationChoice::kReusePrevious ? "reusing previous subnet "
                                                                            : "acquired new lease ";
        Log('I', how + choice.subnet.String() + " (etcd lease " + std::to_string(id) + ")");
        return;
      }
      if (attempt < 5) continue;  // immediate retry after a lost race; then once a second
    } catch (const cni::Error& e) {
      SetNotReady("failed to acquire lease: " + e.msg());
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_.load(); });
  }
}

void Agent::RenewLease() {
  try {
    int64_t id = etcd_.GrantLease(opts_.lease_ttl_s);
    etcd_.Put(SubnetKey(own_.subnet), MarshalLeaseAttrs(own_attrs_), id);
    // The key now hangs on the new etcd lease; flanneld lets the old one linger for a day.
    if (own_.etcd_lease && own_.etcd_lease != id) {
      try {
        etcd_.RevokeLease(own_.etcd_lease);
      } catch (const cni::Error& e) {
        Log('W', "revoking the previous etcd lease: " + e.msg());
      }
    }
    own_.etcd_lease = id;
    renew_at_ = Clock::now() + std::chrono::seconds(opts_.lease_ttl_s - opts_.renew_margin_min * 60);
    Log('I', "renewed lease " + own_.subnet.String());
  } catch (const cni::Error& e) {
    Log('E', "renewing lease " + own_.subnet.String() + ": " + e.msg() + "; retrying in 1 minute");
    renew_at_ = Clock::now() + std::chrono::minutes(1);
  }
}

void Agent::ConfigureOwnSubnet(std::optional<Ip4Net> previous) {
  if (cfg_.backend.type == "vxlan") dp_->EnsureAddress(ctx_.vxlan_dev, {own_.subnet.ip, 32}, cfg_.network);
  if (rules_) {
    std::vector<cni::fw::Chain> chains;
    if (opts_.ip_masq) chains.push_back(MasqChain(cfg_.network, own_.subnet, opts_.ip_masq_random_fully));
    if (opts_.iptables_forward_rules) chains.push_back(ForwardChain(cfg_.network));
    try {
      rules_->Set(std::move(chains));
      rules_error_.reset();
    } catch (const cni::Error& e) {
      rules_error_ = "iptables: " + e.msg();
      Log('E', *rules_error_);
    }
  }
  if (previous && *previous != own_.subnet)
    Log('W', "subnet changed from " + previous->String() + " to " + own_.subnet.String() +
                 ": pods on the old cni0 subnet need the bridge re-created");
  const std::string env = RenderSubnetEnv(cfg_.network, own_.subnet, mtu_, opts_.ip_masq);
  size_t slash = opts_.subnet_file.rfind('/');
  if (slash != std::string::npos && slash > 0) cni::EnsureDir(opts_.subnet_file.substr(0, slash), 0755);
  cni::WriteFileAtomic(opts_.subnet_file, env, 0644);
  Log('I', "wrote " + opts_.subnet_file + " (subnet " + own_.subnet.String() + ", MTU " + std::to_string(mtu_) + ")");
}

void Agent::Push(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(e));
  }
  cv_.notify_all();
}

void Agent::WatchLoop() {
  const std::string prefix = opts_.prefix + "/subnets/";
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    try {
      int64_t rev = 0;
      std::vector<Lease> leases = ListLeases(&rev);
      Push({Event::kSnapshot, std::move(leases), {}});
      auto end = etcd_.Watch(
          prefix, rev + 1,
          [&](const std::vector<WatchEvent>& evs, int64_t) {
            for (const WatchEvent& we : evs) {
              auto sn = Ip4Net::ParseKey(we.kv.key);
              if (!sn) continue;
              if (we.is_delete) {
                Push({Event::kDelete, {}, *sn});
              } else if (auto attrs = ParseLeaseAttrs(we.kv.value)) {
                Push({Event::kPut, {{*sn, *attrs, we.kv.lease}}, {}});
              } else {
                Log('W', "ignoring malformed lease " + we.kv.key);
              }
            }
          },
          stop_, [&] { backoff = std::chrono::milliseconds(100); });
      if (end == EtcdClient::WatchEnd::kStopped) return;
      if (end == EtcdClient::WatchEnd::kCompacted) {
        Log('W', "watch revision " + std::to_string(rev + 1) + " was compacted; listing again");
        continue;
      }
      Log('W', "etcd watch disconnected; reconnecting");
    } catch (const cni::Error& e) {
      Log('E', "etcd watch: " + e.msg());
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, backoff, [&] { return stop_.load(); });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

// Batched deletions run before additions, so a later event of the same batch must cancel the
// opposite queued operation: an entry added and then removed (or the reverse) within one batch
// ends up in the state of the last event.
void Agent::Merge(const Changes& c) {
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

void Agent::Flush() {
  if (pending_.empty()) return;
  Changes c = std::move(pending_);
  pending_ = {};
  dp_->Apply(ctx_.vxlan_dev, c);
}

void Agent::SetPeer(const Lease& l) {
  PeerEntries want = PeerEntriesFor(ctx_, l);
  if (!want.skip_reason.empty()) Log('W', "lease " + l.subnet.String() + ": " + want.skip_reason + ", ignoring");
  PeerEntries have;
  if (auto it = programmed_.find(l.subnet); it != programmed_.end()) have = it->second;
  bool known = peers_.count(l.subnet) && peers_[l.subnet].attrs == l.attrs;
  peers_[l.subnet] = l;
  programmed_[l.subnet] = want;
  if (!known) Log('I', "peer " + l.subnet.String() + " at " + l.attrs.public_ip.String());
  Merge(Diff(have, want));
}

void Agent::RemovePeer(const Ip4Net& sn) {
  auto it = programmed_.find(sn);
  if (it == programmed_.end()) return;
  Log('I', "peer " + sn.String() + " removed");
  Merge(Diff(it->second, {}));
  programmed_.erase(it);
  peers_.erase(sn);
}

void Agent::Handle(const Event& e) {
  switch (e.kind) {
    case Event::kSnapshot: {
      Flush();
      bool own_present = false;
      std::map<Ip4Net, PeerEntries> before = programmed_;
      std::map<Ip4Net, Lease> next;
      for (const Lease& l : e.leases) {
        if (l.subnet == own_.subnet) own_present = own_present || l.attrs.public_ip == own_attrs_.public_ip;
        else next[l.subnet] = l;
      }
      peers_ = next;
      programmed_.clear();
      for (const auto& [sn, l] : peers_) {
        programmed_[sn] = PeerEntriesFor(ctx_, l);
        if (!programmed_[sn].skip_reason.empty())
          Log('W', "lease " + sn.String() + ": " + programmed_[sn].skip_reason + ", ignoring");
      }
      if (!reconciled_) {
        KernelState k = dp_->Dump(ctx_.vxlan_dev, cfg_.network);
        std::erase_if(k.routes, [&](const RouteEntry& r) { return r.dst == own_.subnet; });
        Changes c = Reconcile(k, Union(programmed_));
        auto t0 = Clock::now();
        dp_->Apply(ctx_.vxlan_dev, c);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        Log('I', "start-up sync: " + std::to_string(peers_.size()) + " peers, " +
                     std::to_string(c.add_routes.size()) + " routes added, " +
                     std::to_string(c.del_routes.size() + c.del_neighs.size() + c.del_fdbs.size()) +
                     " stale entries deleted in " + std::to_string(us / 1000) + "." +
                     std::to_string(us % 1000 / 100) + " ms");
        reconciled_ = true;
      } else {
        dp_->Apply(ctx_.vxlan_dev, Diff(Union(before), Union(programmed_)));
      }
      if (!own_present) {
        Log('W', "own lease " + own_.subnet.String() + " is gone from etcd; acquiring it again");
        Ip4Net old = own_.subnet;
        AcquireLease();
        if (own_.subnet != old) ConfigureOwnSubnet(old);
      }
      break;
    }
    case Event::kPut: {
      const Lease& l = e.leases.front();
      if (l.subnet == own_.subnet) {
        if (l.attrs.public_ip != own_attrs_.public_ip)
          Log('E', "own subnet " + l.subnet.String() + " was written by " + l.attrs.public_ip.String());
        break;
      }
      SetPeer(l);
      break;
    }
    case Event::kDelete: {
      if (e.subnet == own_.subnet) {
        // flanneld exits 0 here ("Lease has been revoked"), which systemd's Restart=on-failure
        // does not restart; weftd takes its subnet back instead.
        Log('W', "own lease " + e.subnet.String() + " was revoked; acquiring it again");
        Ip4Net old = own_.subnet;
        AcquireLease();
        if (own_.subnet != old) ConfigureOwnSubnet(old);
        break;
      }
      RemovePeer(e.subnet);
      break;
    }
  }
}

// The periodic check of the kernel side, on the --iptables-resync period: a deleted VXLAN device
// is re-created (same MAC) with its address, and peer entries that someone removed, or that
// failed to program, are put back, stray ones in the overlay removed. flanneld does none of this
// (its device watcher re-creates flannel.1 but replays no peer, flannel §3.8).
void Agent::ResyncDataplane() {
  if (!reconciled_) return;
  if (cfg_.backend.type == "vxlan") {
    Mac mac = dp_->EnsureVxlan(vxlan_spec_);
    dp_->EnsureAddress(ctx_.vxlan_dev, {own_.subnet.ip, 32}, cfg_.network);
    if (own_attrs_.vtep_mac && mac != *own_attrs_.vtep_mac) {
      Log('W', ctx_.vxlan_dev + " now has MAC " + MacString(mac) + " (was " + MacString(*own_attrs_.vtep_mac) +
                   "); publishing it");
      own_attrs_.vtep_mac = mac;
      RenewLease();
    }
  }
  KernelState k = dp_->Dump(ctx_.vxlan_dev, cfg_.network);
  std::erase_if(k.routes, [&](const RouteEntry& r) { return r.dst == own_.subnet; });
  Changes c = Reconcile(k, Union(programmed_));
  if (c.empty()) return;
  Log('W', "data plane drifted: restoring " +
               std::to_string(c.add_routes.size() + c.add_neighs.size() + c.add_fdbs.size()) + " entries, removing " +
               std::to_string(c.del_routes.size() + c.del_neighs.size() + c.del_fdbs.size()));
  dp_->Apply(ctx_.vxlan_dev, c);
}

void Agent::Run() {
  SetNotReady("waiting for the network config " + opts_.prefix + "/config");
  std::optional<Ip4Net> previous;
  if (auto text = cni::ReadFile(opts_.subnet_file)) previous = ReadPreviousSubnet(*text);
  cfg_ = WaitForConfig();
  if (stop_) return;
  ext_ = LookupExtIface(opts_.iface);
  Log('I', "using interface " + ext_.name + " (" + ext_.addr.String() + "), public IP " + ext_.public_ip.String());
  ctx_.backend = cfg_.backend;
  ctx_.ext_dev = ext_.name;
  own_attrs_.public_ip = ext_.public_ip;
  own_attrs_.backend_type = cfg_.backend.type;
  const int base_mtu = cfg_.backend.mtu > 0 ? static_cast<int>(cfg_.backend.mtu) : ext_.mtu;
  if (cfg_.backend.type == "vxlan") {
    mtu_ = base_mtu - 50;
    ctx_.vxlan_dev = "flannel." + std::to_string(cfg_.backend.vni);
    std::string machine = cni::ReadFile("/etc/machine-id").value_or("");
    VxlanDeviceSpec& spec = vxlan_spec_;
    spec.name = ctx_.vxlan_dev;
    spec.vni = static_cast<uint32_t>(cfg_.backend.vni);
    spec.port = static_cast<uint16_t>(cfg_.backend.port);
    // The interface address, not a NATed --public-ip: a non-local VXLAN local address makes
    // the kernel drop every encapsulated packet (flannel §3.2).
    spec.local = ext_.addr;
    spec.dev = ext_.name;
    spec.learning = cfg_.backend.learning;
    spec.gbp = cfg_.backend.gbp;
    spec.mtu = mtu_;
    spec.mac = StableMac(machine + "|" + ext_.public_ip.String() + "|" + std::to_string(spec.vni));
    own_attrs_.vtep_mac = dp_->EnsureVxlan(spec);
    own_attrs_.vni = cfg_.backend.vni;
    Log('I', "VXLAN device " + spec.name + " VtepMAC " + MacString(*own_attrs_.vtep_mac) + " MTU " + std::to_string(mtu_));
  } else {
    mtu_ = base_mtu;
  }
  if (opts_.ip_masq || opts_.iptables_forward_rules) {
    auto backend = cni::fw::MakeIptablesBackend(cni::fw::DetectIptablesKind());
    if (backend) rules_ = std::make_unique<RuleKeeper>(std::move(backend));
  }
  AcquireLease();
  if (stop_) return;
  ConfigureOwnSubnet(previous);
  watcher_ = std::thread([this] { WatchLoop(); });

  auto next_rules = Clock::now() + std::chrono::seconds(opts_.iptables_resync_s);
  bool first_snapshot = false;
  while (!stop_) {
    std::deque<Event> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, std::min(renew_at_, next_rules), [&] { return stop_ || !queue_.empty(); });
      batch.swap(queue_);
    }
    // Every event of a wake-up lands in one data-plane batch (one ip and one bridge run for
    // a burst of a thousand leases).
    for (const Event& e : batch) {
      try {
        Handle(e);
        if (e.kind == Event::kSnapshot) first_snapshot = true;
      } catch (const cni::Error& err) {
        Log('E', "handling lease event: " + err.msg());
      }
    }
    try {
      Flush();
    } catch (const cni::Error& err) {
      Log('E', "programming peers: " + err.msg());
    }
    auto now = Clock::now();
    if (now >= renew_at_) RenewLease();
    if (now >= next_rules) {
      if (rules_) {
        try {
          if (auto missing = rules_->Resync()) Log('W', "iptables rules were missing (" + *missing + "); restored");
          rules_error_.reset();
        } catch (const cni::Error& err) {
          rules_error_ = "iptables: " + err.msg();
          Log('E', *rules_error_);
        }
      }
      try {
        ResyncDataplane();
      } catch (const cni::Error& err) {
        Log('E', "data plane check: " + err.msg());
      }
      next_rules = now + std::chrono::seconds(opts_.iptables_resync_s);
    }
    if (rules_error_) SetNotReady(*rules_error_);
    else if (!first_snapshot) SetNotReady("waiting for the first list of leases from etcd");
    else SetNotReady("");
  }
}

}  // namespace weft::agent
