// firewall: the chained meta plugin that lets a container's traffic through the node's FORWARD
// chain (the reference's plugins/meta/firewall, v1.1.1), on libcni's firewall layer. The
// iptables backend keeps the reference's filter-table layout: FORWARD jumps (first) to
// CNI-FORWARD, whose first rule jumps to the admin chain (CNI-ADMIN, or iptablesAdminChainName)
// and which holds two rules per container address (replies to it, traffic from it). With
// `ingressPolicy: same-bridge`, CNI-ISOLATION-STAGE-1/2 drop traffic that enters from another
// bridge. Each address family is one firewall transaction. DEL removes the container's rules
// (never the shared chains or the isolation rules, which other containers may need); CHECK looks
// for the jumps and the container's rules. The firewalld backend is not implemented (no
// firewalld to test against here): asking for it, or finding firewalld running when choosing
// automatically, is an error on ADD and CHECK that says so; DEL still succeeds.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/fw/fw.h"
#include "cni/result.h"
#include "cni/skel.h"

namespace firewall {

struct Config {
  std::string backend;            // "", "iptables", "firewalld" (anything else: automatic)
  std::string admin_chain = "CNI-ADMIN";
  std::string firewalld_zone = "trusted";
  std::string ingress_policy;     // "", "open", "same-bridge"
  std::optional<cni::Result> prev_result;
};

/// Parses the config with the reference's messages (code 999).
Config ParseConfig(const cni::CallArgs& args);

/// The chains (in the order they are ensured) that ADD programs for the addresses of `family`
/// in the result; empty when it has none. `bridge` is the bridge for same-bridge isolation ("":
/// none).
std::vector<cni::fw::Chain> AddChains(const Config& c, const cni::Result& r, cni::fw::Family family,
                                      const std::string& bridge);

cni::PluginFuncs Funcs();

cni::Result Add(const cni::CallArgs& args);
void Del(const cni::CallArgs& args);
void Check(const cni::CallArgs& args);

}  // namespace firewall
