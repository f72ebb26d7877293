// etcd subnet manager (see manager.h). The code is the etcd half of weftd's former control loop
// (agent.cpp), moved here unchanged in behaviour: same requests, same retries, same log lines.
#include "agent/subnet/etcd/manager.h"

#include <algorithm>
#include <set>
#include <utility>

#include "agent/subnet/etcd/allocator.h"
#include "cni/error.h"

namespace weft::agent {

using Clock = std::chrono::steady_clock;

EtcdSubnetManager::EtcdSubnetManager(EtcdManagerOptions opts, Runtime& rt)
    : opts_(std::move(opts)), rt_(rt), etcd_(opts_.etcd), previous6_(opts_.previous_subnet6) {
  while (!opts_.prefix.empty() && opts_.prefix.back() == '/') opts_.prefix.pop_back();
  rt_.metrics().RegisterStore("etcd");
  etcd_.SetErrorHook([this] { rt_.metrics().StoreRequestError("etcd"); });
}

NetworkConfig EtcdSubnetManager::GetNetworkConfig() {
  auto kv = etcd_.Get(ConfigSource());
  if (!kv)
    throw cni::Error(cni::kIOFailure,
                     "flannel config not found in etcd store. Did you create your config using etcdv3 API?");
  cfg_ = ParseNetworkConfig(kv->value);
  return cfg_;
}

std::vector<EtcdSubnetManager::Listed> EtcdSubnetManager::ListLeases(int64_t* revision) {
  RangeResult r = etcd_.GetPrefix(opts_.prefix + "/subnets/");
  if (revision) *revision = r.revision;
  std::vector<Listed> out;
  for (const KeyValue& kv : r.kvs) {
    auto sn = ParseSubnetKey(kv.key);
    auto attrs = ParseLeaseAttrs(kv.value);
    if (!sn || !attrs) {
      Log('W', "ignoring malformed lease " + kv.key);
      continue;
    }
    out.push_back({{sn->subnet, sn->subnet6, *attrs, Clock::time_point::max(), kv.key}, kv.lease});
  }
  return out;
}

Lease EtcdSubnetManager::AcquireLease(const LeaseAttrs& attrs, const std::optional<cni::IPNet>& previous) {
  const std::string value = MarshalLeaseAttrs(attrs);
  for (int attempt = 1; !rt_.stopped(); ++attempt) {
    try {
      std::vector<Listed> listed = ListLeases(nullptr);
      std::vector<Lease> leases;
      for (const Listed& l : listed) leases.push_back(l.lease);
      AllocationChoice choice =
          ChooseSubnet(cfg_, leases, attrs.public_ip, previous, rng_, attrs.public_ipv6, previous6_);
      for (const Lease& stale : choice.stale_own) {
        Log('I', "deleting own lease " + stale.String() + " that does not fit the config");
        etcd_.Delete(KeyOf(stale));
      }
      int64_t id = etcd_.GrantLease(opts_.lease_ttl_s);
      Lease chosen{choice.subnet, choice.subnet6, attrs, Clock::time_point::max(), ""};
      const std::string key = KeyOf(chosen);
      bool ok = true;
      if (choice.kind == AllocationChoice::kReuseOwn) {
        etcd_.Put(key, value, id);
      } else if (!etcd_.CreateIfAbsent(key, value, id)) {
        ok = false;
        etcd_.RevokeLease(id);
        // flanneld gives up here and exits; the subnet was taken between list and create.
        Log('W', "lost the race for " + chosen.String() + " (attempt " + std::to_string(attempt) +
                     "), retrying");
      }
      if (ok) {
        // The etcd lease the key hung on before (a previous run's, or this run's before the key
        // was deleted) holds no key any more: revoke it instead of leaving it for a day.
        std::set<int64_t> replaced = {own_etcd_lease_};
        if (choice.kind == AllocationChoice::kReuseOwn)
          for (const Listed& l : listed)
            if (l.lease.Key() == chosen.Key()) replaced.insert(l.etcd_lease);
        for (int64_t old : replaced) {
          if (old == 0 || old == id) continue;
          try {
            etcd_.RevokeLease(old);
          } catch (const cni::Error& e) {
            Log('W', "revoking the replaced etcd lease: " + e.msg());
          }
        }
        own_etcd_lease_ = id;
        if (chosen.subnet6.ip.valid()) previous6_ = chosen.subnet6;
        const char* how = choice.kind == AllocationChoice::kReuseOwn       ? "reusing own lease "
                          : choice.kind == AllocationChoice::kReusePrevious ? "reusing previous subnet "
                                                                            : "acquired new lease ";
        Log('I', how + chosen.String() + " (etcd lease " + std::to_string(id) + ")");
        chosen.expiration = Clock::now() + std::chrono::seconds(opts_.lease_ttl_s);
        chosen.source = key;
        return chosen;
      }
      if (attempt < 5) continue;  // immediate retry after a lost race; then once a second
    } catch (const cni::Error& e) {
      rt_.SetNotReady("failed to acquire lease: " + e.msg());
    }
    rt_.SleepFor(std::chrono::seconds(1));
  }
  return {};
}

Lease EtcdSubnetManager::RenewLease(const Lease& own) {
  int64_t id = etcd_.GrantLease(opts_.lease_ttl_s);
  etcd_.Put(KeyOf(own), MarshalLeaseAttrs(own.attrs), id);
  // The key now hangs on the new etcd lease; flanneld lets the old one linger for a day.
  if (own_etcd_lease_ && own_etcd_lease_ != id) {
    try {
      etcd_.RevokeLease(own_etcd_lease_);
    } catch (const cni::Error& e) {
      Log('W', "revoking the previous etcd lease: " + e.msg());
    }
  }
  own_etcd_lease_ = id;
  Lease renewed = own;
  renewed.expiration = Clock::now() + std::chrono::seconds(opts_.lease_ttl_s);
  return renewed;
}

void EtcdSubnetManager::WatchLeases(const std::function<void(LeaseEvent)>& sink) {
  const std::string prefix = opts_.prefix + "/subnets/";
  auto backoff = std::chrono::milliseconds(100);
  while (!rt_.stopped()) {
    try {
      int64_t rev = 0;
      LeaseEvent snapshot{LeaseEvent::kSnapshot, {}};
      for (Listed& l : ListLeases(&rev)) snapshot.leases.push_back(std::move(l.lease));
      sink(std::move(snapshot));
      auto end = etcd_.Watch(
          prefix, rev + 1,
          [&](const std::vector<WatchEvent>& evs, int64_t) {
            for (const WatchEvent& we : evs) {
              auto sn = ParseSubnetKey(we.kv.key);
              if (!sn) continue;
              if (we.is_delete) {
                Lease gone;
                gone.subnet = sn->subnet;
                gone.subnet6 = sn->subnet6;
                gone.source = we.kv.key;
                sink({LeaseEvent::kRemoved, {gone}});
              } else if (auto attrs = ParseLeaseAttrs(we.kv.value)) {
                sink({LeaseEvent::kAdded, {{sn->subnet, sn->subnet6, *attrs, Clock::time_point::max(), we.kv.key}}});
              } else {
                Log('W', "ignoring malformed lease " + we.kv.key);
              }
            }
          },
          rt_.stop_flag(), [&] { backoff = std::chrono::milliseconds(100); });
      if (end == EtcdClient::WatchEnd::kStopped) return;
      if (end == EtcdClient::WatchEnd::kCompacted) {
        Log('W', "watch revision " + std::to_string(rev + 1) + " was compacted; listing again");
        rt_.metrics().WatchRestart("etcd", "compacted");
        continue;
      }
      Log('W', "etcd watch disconnected; reconnecting");
      rt_.metrics().WatchRestart("etcd", "disconnected");
    } catch (const cni::Error& e) {
      Log('E', "etcd watch: " + e.msg());
      rt_.metrics().WatchRestart("etcd", "error");
    }
    rt_.SleepFor(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace weft::agent
