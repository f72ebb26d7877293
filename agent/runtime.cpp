// Log, stop signal and readiness (see runtime.h).
#include "agent/runtime.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <iostream>

namespace weft::agent {

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

void Runtime::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool Runtime::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
  return !stop_.load();
}

void Runtime::SetNotReady(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (not_ready_ == reason) return;
    not_ready_ = reason;
  }
  metrics_.SetReady(reason.empty());
  if (reason.empty()) Log('I', "ready");
  else Log('W', "not ready: " + reason);
}

std::optional<std::string> Runtime::NotReadyReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (not_ready_.empty()) return std::nullopt;
  return not_ready_;
}

}  // namespace weft::agent
