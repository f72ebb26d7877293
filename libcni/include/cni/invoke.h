// Delegation to other plugins by exec, as the spec and libcni's invoke package do it: find the
// binary on CNI_PATH (first regular file of that name), run it with the caller's environment
// and CNI_COMMAND overridden, feed it the config on stdin, and read its stdout. A non-zero exit
// turns the plugin's error JSON into a cni::Error with the same code (or wraps its stderr).
// "Text file busy" (a binary being replaced) is retried, as libcni does.
#pragma once

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

/// Delegated ADD; the result is parsed in `version`.
Result DelegateAdd(std::string_view type, const Env& env, std::string_view stdin_data,
                   std::string_view version);

}  // namespace cni
