// Metrics recording and rendering (see metrics.h).
#include "agent/metrics.h"

#include <cstdio>

namespace weft::agent {

namespace {

// Prometheus sample values and bucket bounds: "0.0005", "1", "2.5".
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Head(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void Metrics::RegisterStore(std::string_view store) {
  std::lock_guard<std::mutex> lock(mu_);
  store_errors_.try_emplace(std::string(store), 0);
}

void Metrics::SetPeers(size_t known, size_t programmed) {
  std::lock_guard<std::mutex> lock(mu_);
  peers_known_ = known;
  peers_programmed_ = programmed;
}

void Metrics::ObserveEventToKernel(std::chrono::duration<double> d) {
  const double s = d.count();
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (s <= kBuckets[i]) {
      ++buckets_[i];
      break;
    }
  ++count_;
  sum_ += s;
}

void Metrics::StoreRequestError(std::string_view store) {
  std::lock_guard<std::mutex> lock(mu_);
  ++store_errors_[std::string(store)];
}

void Metrics::WatchRestart(std::string_view store, std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++watch_restarts_[{std::string(store), std::string(reason)}];
}

void Metrics::DataplaneRepairs(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  dataplane_repairs_ += n;
}

void Metrics::IptablesRepair() {
  std::lock_guard<std::mutex> lock(mu_);
  ++iptables_repairs_;
}

void Metrics::SetReady(bool ready) {
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = ready;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  Head(out, "weftd_ready", "gauge", "1 when /readyz answers 200.");
  out += "weftd_ready " + std::to_string(ready_ ? 1 : 0) + "\n";
  Head(out, "weftd_peers_known", "gauge", "Peer leases the store lists (the own lease not counted).");
  out += "weftd_peers_known " + std::to_string(peers_known_) + "\n";
  Head(out, "weftd_peers_programmed", "gauge",
       "Peer leases whose kernel entries are programmed (usable by this node's backend).");
  out += "weftd_peers_programmed " + std::to_string(peers_programmed_) + "\n";
  Head(out, "weftd_event_to_kernel_seconds", "histogram",
       "Time from a lease event reaching weftd to its kernel entries being applied.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i];
    out += "weftd_event_to_kernel_seconds_bucket{le=\"" + Num(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += "weftd_event_to_kernel_seconds_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += "weftd_event_to_kernel_seconds_sum " + Num(sum_) + "\n";
  out += "weftd_event_to_kernel_seconds_count " + std::to_string(count_) + "\n";
  Head(out, "weftd_store_request_errors_total", "counter", "Failed requests to the lease store (etcd, kube API server).");
  for (const auto& [store, n] : store_errors_)
    out += "weftd_store_request_errors_total{store=\"" + store + "\"} " + std::to_string(n) + "\n";
  Head(out, "weftd_store_watch_restarts_total", "counter", "Watches of the lease store started again, by reason.");
  for (const auto& [key, n] : watch_restarts_)
    out += "weftd_store_watch_restarts_total{store=\"" + key.first + "\",reason=\"" + key.second + "\"} " +
           std::to_string(n) + "\n";
  Head(out, "weftd_dataplane_repairs_total", "counter",
       "Kernel entries the periodic check restored or removed (someone changed them, or programming failed).");
  out += "weftd_dataplane_repairs_total " + std::to_string(dataplane_repairs_) + "\n";
  Head(out, "weftd_iptables_repairs_total", "counter", "Times the periodic check rebuilt the firewall chains.");
  out += "weftd_iptables_repairs_total " + std::to_string(iptables_repairs_) + "\n";
  return out;
}

}  // namespace weft::agent
