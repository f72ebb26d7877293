// weftd's command line: flanneld's flag names (etcd and kube subnet managers), each also read from
// FLANNELD_<FLAG> in the environment when not given on the command line (flagutil.SetFlagsFromEnv),
// and Go's single-dash spelling (-etcd-endpoints) next to --etcd-endpoints. CLI11 does the parsing;
// the result is an AgentOptions value, so the flag surface is unit-tested without starting weftd.
// AgentOptions is every flag: the control loop's (LoopOptions), the etcd and kube managers', healthz.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/subnet/etcd/manager.h"
#include "agent/subnet/kube/options.h"

namespace weft::agent {

struct AgentOptions : LoopOptions {
  EtcdOptions etcd;
  std::string prefix = "/coreos.com/network";
  int64_t lease_ttl_s = 86400;
  std::string healthz_ip = "0.0.0.0";
  int healthz_port = 0;
  std::string wireguard_go;  // --wireguard-go: the userspace WireGuard binary (wireguard backend)
  bool kube_subnet_mgr = false;  // --kube-subnet-mgr: Node objects instead of etcd
  kube::KubeOptions kube;
  /// The etcd manager's part.
  EtcdManagerOptions EtcdManager() const { return {etcd, prefix, lease_ttl_s, std::nullopt}; }
};

/// Parses `args` (args[0] is the program name) into `out`. Returns nullopt when weftd should run,
/// else the exit code after help/version/errors were written to `out_stream`/`err_stream`
/// (0 for --help and --version, non-zero for bad or unsupported flags).
std::optional<int> ParseFlags(std::vector<std::string> args, AgentOptions& out, std::ostream& out_stream,
                              std::ostream& err_stream);

}  // namespace weft::agent
