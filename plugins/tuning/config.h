// tuning configuration, decoded with the reference's (plugins/meta/tuning) keys, precedence and
// messages: `sysctl`, `mac`, `mtu`, `promisc`, `allmulti`, `txQLen`, `dataDir`, the `mac`
// capability (runtimeConfig.mac), CNI_ARGS `MAC` and the `args.cni.*` overrides. weft also
// takes runtimeConfig.mtu (an `mtu` capability the reference does not have). The safety checks
// on sysctl names live here too: only keys under /proc/sys/net/ after the path is cleaned,
// IFNAME substituted (once) by the container's interface, no key given twice, and the
// allowlist file (/etc/cni/tuning/allowlist.conf) when it exists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/json.h"

namespace tuning {

inline constexpr const char* kDefaultDataDir = "/run/cni/tuning";
inline constexpr const char* kAllowlistFile = "/etc/cni/tuning/allowlist.conf";

struct Conf {
  std::string data_dir = kDefaultDataDir;
  std::vector<std::pair<std::string, std::string>> sysctls;  // keys unique, config order
  std::string mac;        // as configured (the result carries it verbatim, as the reference's)
  bool promisc = false;
  int64_t mtu = 0;        // 0: unchanged
  std::optional<bool> allmulti;
  std::optional<int64_t> txqlen;
  bool ChangesLink() const { return !mac.empty() || mtu != 0 || promisc || allmulti || txqlen; }
};

/// Decodes the config and CNI_ARGS. Errors are code 999 "failed to load netconf: <Go text>" or
/// the CNI_ARGS parser's.
Conf ParseConf(const cni::Json& config, std::string_view cni_args);

/// Fails with "duplicated sysctl keys are not allowed" when a key appears twice in `sysctl`
/// (the parsed document has lost duplicates, so this scans the raw text).
void CheckDuplicateSysctls(std::string_view stdin_data);

/// Fails when the allowlist file at `path` exists and a key matches none of its patterns.
void CheckAllowlist(const Conf& c, const std::string& path = kAllowlistFile);

/// /proc/sys/<key> with '.' turned into '/', the first "IFNAME" replaced by `ifname`, cleaned;
/// throws `invalid net sysctl key: "<key>"` unless the result is under /proc/sys/net/.
std::string SysctlPath(std::string_view key, std::string_view ifname);

}  // namespace tuning
