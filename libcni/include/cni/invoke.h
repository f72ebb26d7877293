// Delegation to other plugins by exec, as the spec and libcni's invoke package do it: find the
// binary on CNI_PATH (first regular file of that name), run it with the caller's environment
// and CNI_COMMAND overridden, feed it the config on stdin, and read its stdout. A non-zero exit
// turns the plugin's error JSON into a cni::Error with the same code (or wraps its stderr).
// "Text file busy" (a binary being replaced) is retried, as libcni does.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cni/result.h"
#include "cni/skel.h"

namespace cni {

/// The directories of a ':'-separated CNI_PATH, empty entries dropped.
std::vector<std::string> SplitPath(std::string_view cni_path);

/// Full path of `plugin` on the ':'-separated `cni_path`; throws
/// `failed to find plugin "x" in path [a b]` (and `no plugin name provided`).
std::string FindInPath(std::string_view plugin, std::string_view cni_path);

/// Runs the executable at `path` with `env` and `stdin_data`; returns stdout on exit 0.
std::string ExecPlugin(const std::string& path, const Env& env, std::string_view stdin_data);

/// Runs plugin `type` found on env's CNI_PATH with CNI_COMMAND=`command`.
std::string Delegate(std::string_view type, std::string_view command, const Env& env,
                     std::string_view stdin_data);

struct Running;

/// A delegate started by StartDelegate and not waited for yet, so the caller's own work overlaps
/// the plugin's exec and run without a thread. Its stdin is written when it starts (a config fits
/// the pipe); its stdout and stderr wait in their pipes until Wait. Destroying one that was never
/// waited for waits for the plugin and drops its output.
class PendingDelegate {
 public:
  PendingDelegate();
  PendingDelegate(PendingDelegate&&) noexcept;
  PendingDelegate& operator=(PendingDelegate&&) noexcept;
  ~PendingDelegate();

  /// Started and not waited for yet.
  bool valid() const { return valid_; }
  /// Whether the plugin is running (false if it could not be found or spawned: Wait throws that).
  bool running() const { return run_ != nullptr; }
  /// What Delegate would have returned or thrown; valid() is false afterwards.
  std::string Wait();

 private:
  friend PendingDelegate StartDelegate(std::string_view, std::string_view, const Env&, std::string_view);
  void Reap() noexcept;

  std::unique_ptr<Running> run_;
  std::exception_ptr error_;
  std::string path_;
  Env env_;
  std::string input_;
  bool valid_ = false;
};

/// Delegate, started now and finished by PendingDelegate::Wait.
PendingDelegate StartDelegate(std::string_view type, std::string_view command, const Env& env,
                              std::string_view stdin_data);

/// Delegated ADD; the result is parsed in `version`.
Result DelegateAdd(std::string_view type, const Env& env, std::string_view stdin_data,
                   std::string_view version);
/// The result of a delegated ADD started with StartDelegate, parsed in `version`.
Result WaitAdd(PendingDelegate& add, std::string_view version);

}  // namespace cni
