// What every part of weftd shares at run time: the log line format, the stop signal that ends
// every retry loop and wait, the readiness reason /readyz reports, and the /metrics values. The control loop, the
// subnet managers and main() hold one Runtime; nothing here knows a store or a backend.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include "agent/metrics.h"

namespace weft::agent {

/// Structured-enough logging to stderr: "I1127 01:50:00.123456 weftd] message".
void Log(char level, const std::string& msg);

class Runtime {
 public:
  /// Ends every SleepFor at once and makes stopped() true; callable from any thread.
  void Stop();
  bool stopped() const { return stop_.load(); }
  const std::atomic<bool>& stop_flag() const { return stop_; }
  /// Waits `d` or until Stop(); false when stopped.
  bool SleepFor(std::chrono::milliseconds d);

  /// Sets the reason /readyz gives (empty: ready); a change is logged.
  void SetNotReady(std::string reason);
  /// nullopt when ready; the reason otherwise.
  std::optional<std::string> NotReadyReason() const;

  Metrics& metrics() { return metrics_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string not_ready_ = "starting";
  Metrics metrics_;
};

}  // namespace weft::agent
