// weftd's command line: flanneld's flag names (etcd subnet manager only), each also read from
// FLANNELD_<FLAG> in the environment when not given on the command line (flagutil.SetFlagsFromEnv),
// and Go's single-dash spelling (-etcd-endpoints) next to --etcd-endpoints. CLI11 does the parsing;
// the result is an AgentOptions value, so the flag surface is unit-tested without starting weftd.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "agent/agent.h"

namespace weft::agent {

/// Parses `args` (args[0] is the program name) into `out`. Returns nullopt when weftd should run,
/// else the exit code after help/version/errors were written to `out_stream`/`err_stream`
/// (0 for --help and --version, non-zero for bad or unsupported flags).
std::optional<int> ParseFlags(std::vector<std::string> args, AgentOptions& out, std::ostream& out_stream,
                              std::ostream& err_stream);

}  // namespace weft::agent
