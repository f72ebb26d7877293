// The environment cnitool reads, parsed as upstream cnitool does: CNI_ARGS strictly as "K=V;K=V"
// (every pair needs a non-empty key and value), CAP_ARGS as a JSON object of capability args,
// the interface name from --ifname, else CNI_IFNAME, else eth0. Bad input throws ConfigError.
#pragma once

#include <string>
#include <string_view>

#include "cache.h"
#include "cni/json.h"
#include "conf.h"

namespace weft::cnitool {

inline constexpr std::string_view kDefaultNetDir = "/etc/cni/net.d";

ArgPairs ParseCniArgsEnv(std::string_view s);

/// An object (empty for "", "null"); anything else is a ConfigError with Go's message.
cni::Json ParseCapArgs(std::string_view s);

/// "--ifname" wins, then CNI_IFNAME, then "eth0".
std::string ChooseIfName(std::string_view flag, std::string_view env);

}  // namespace weft::cnitool
