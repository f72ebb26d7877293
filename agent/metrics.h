// weftd's /metrics (Prometheus text exposition format 0.0.4; flanneld has none): peers known
// and programmed, a histogram of the time from a lease event reaching weftd to its kernel
// entries being applied, store request errors and watch restarts by store ("etcd", "kube"),
// data-plane and iptables repairs, readiness. Every part records through one Metrics object
// (Runtime::metrics()); the healthz server renders it. Thread-safe; recording is a mutex and an
// add, far off any hot path.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace weft::agent {

class Metrics {
 public:
  /// Upper bounds of the event-to-kernel histogram, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};

  /// Makes the store's counters exist (at 0) before the first error.
  void RegisterStore(std::string_view store);
  void SetPeers(size_t known, size_t programmed);
  void ObserveEventToKernel(std::chrono::duration<double> d);
  /// A request to the store (etcd, the API server) failed.
  void StoreRequestError(std::string_view store);
  /// A watch of the store ended and was started again; `reason`: "disconnected", "compacted",
  /// "error", "expired", ...
  void WatchRestart(std::string_view store, std::string_view reason);
  /// Kernel objects the periodic check restored or removed.
  void DataplaneRepairs(size_t n);
  /// The firewall chains had to be rebuilt.
  void IptablesRepair();
  void SetReady(bool ready);

  /// The exposition text.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  size_t peers_known_ = 0, peers_programmed_ = 0;
  std::array<uint64_t, kBuckets.size()> buckets_{};  // non-cumulative; rendered cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
  std::map<std::string, uint64_t> store_errors_;                           // by store
  std::map<std::pair<std::string, std::string>, uint64_t> watch_restarts_;  // by store, reason
  uint64_t dataplane_repairs_ = 0, iptables_repairs_ = 0;
  bool ready_ = false;
};

/// The Content-Type of Render()'s text.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace weft::agent
