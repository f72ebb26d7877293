// Running the iptables-save / iptables-restore helpers (internal to the fw layer): posix_spawn
// with stdin fed and stdout/stderr collected through one poll loop, so large tables never
// deadlock a pipe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cni::fw {

struct ProcResult {
  int status = 0;  // exit status, or 128+signal
  std::string out, err;
};

/// Something else to wait on while a process runs: `on_ready(child pid)` is called whenever `fd`
/// is readable, until it returns true.
struct ProcWatch {
  int fd = -1;
  std::function<bool(pid_t)> on_ready;
};

/// Runs argv[0] (searched on PATH, then /usr/sbin and /sbin) with `input` on stdin.
ProcResult RunProcess(const std::vector<std::string>& argv, std::string_view input,
                      ProcWatch* watch = nullptr);

/// Runs every argv concurrently (stdin empty, output collected in memory files, so no pipe can
/// fill up) and returns their results in order; wall time is that of the slowest.
std::vector<ProcResult> RunParallel(const std::vector<std::vector<std::string>>& argvs);

/// Full path of a command as RunProcess finds it, "" when missing.
std::string FindCommand(std::string_view name);

/// "running [a b c]: exit status N: <stderr>" as go-iptables words a failure.
std::string DescribeFailure(const std::vector<std::string>& argv, const ProcResult& r);

}  // namespace cni::fw
