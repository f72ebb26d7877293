// The flannel netconf and the delegate config built from it and subnet.env, field by field as
// the reference's cmdAdd/doCmdAdd/getDelegateIPAM do it (flannel.md §1.2, §1.4, §1.5): the
// delegate map keeps the user's keys (exact-case lookups, like Go's map access), gets name,
// type=bridge, ipMasq=!FLANNEL_IPMASQ, mtu, isGateway (bridge only), cniVersion, runtimeConfig
// and an ipam whose ranges come from the subnets and whose routes are the user's routes
// followed by the flannel networks. The serialised form is the reference's json.Marshal output.
#pragma once

#include <optional>
#include <string>

#include "cni/json.h"
#include "subnet_env.h"

namespace flannel {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/flannel";

struct NetConf {
  std::string cni_version;
  std::string name;
  std::string subnet_file = kDefaultSubnetFile;  // "" in the config also means the default
  std::string data_dir = kDefaultDataDir;        // "" in the config also means the default
  // Go map[string]interface{} fields: nullopt is a nil map (absent or JSON null).
  std::optional<cni::Json> delegate;
  std::optional<cni::Json> ipam;
  std::optional<cni::Json> runtime_config;
};

/// loadFlannelNetConf: decodes the keys with Go's case-insensitive matching. A type mismatch
/// throws cni::Error(kInternal, "failed to load netconf: json: cannot unmarshal ...").
NetConf LoadNetConf(const cni::Json& config);

/// The delegate config for ADD. Throws the reference's errors: the three delegate validation
/// messages and "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse
/// ipam.routes: ...".
cni::Json BuildDelegate(const NetConf& n, const SubnetEnv& env);

/// The bytes the reference saves and feeds to the delegate: GoMarshal of the delegate map.
std::string MarshalDelegate(const cni::Json& delegate);

}  // namespace flannel
