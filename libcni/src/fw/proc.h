// Running the iptables-save / iptables-restore helpers (internal to the fw layer): posix_spawn
// with stdin fed and stdout/stderr collected through one poll loop, so large tables never
// deadlock a pipe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cni::fw {

struct ProcResult {
  int status = 0;  // exit status, or 128+signal
  std::string out, err;
};

/// Runs argv[0] (searched on PATH, then /usr/sbin and /sbin) with `input` on stdin.
ProcResult RunProcess(const std::vector<std::string>& argv, std::string_view input);

/// Runs every argv concurrently (stdin empty, output collected in memory files, so no pipe can
/// fill up) and returns their results in order; wall time is that of the slowest.
std::vector<ProcResult> RunParallel(const std::vector<std::vector<std::string>>& argvs);

/// Full path of a command as RunProcess finds it, "" when missing.
std::string FindCommand(std::string_view name);

/// "running [a b c]: exit status N: <stderr>" as go-iptables words a failure.
std::string DescribeFailure(const std::vector<std::string>& argv, const ProcResult& r);

}  // namespace cni::fw
