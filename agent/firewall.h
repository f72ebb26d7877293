// flanneld's iptables chains as fw::Chain data (flannel §4.1, §4.2): FLANNEL-POSTRTG in nat
// (jumped to from POSTROUTING, comment "flanneld masq") and FLANNEL-FWD in filter (jumped to
// from FORWARD, comment "flanneld forward"), kept in place by a periodic check. Dual stack: the
// same chains for ip6tables with the IPv6 network and subnet (multicast ff00::/8 instead of
// 224.0.0.0/4), one chain set per family.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cni/fw/fw.h"
#include "cni/ip.h"

namespace weft::agent {

cni::fw::Chain MasqChain(const cni::IPNet& network, const cni::IPNet& subnet, bool random_fully = true);
cni::fw::Chain ForwardChain(const cni::IPNet& network);

/// Owns the chains the agent wants and re-creates them when something removed a rule.
class RuleKeeper {
 public:
  explicit RuleKeeper(std::unique_ptr<cni::fw::Backend> backend) : backend_(std::move(backend)) {}
  /// Replaces the wanted chain set of `family`; chains of its previous set are removed first (a
  /// changed subnet must not leave the old RETURN/MASQUERADE rules behind).
  void Set(cni::fw::Family family, std::vector<cni::fw::Chain> chains);
  /// Re-checks; when any rule or jump is missing the chains are rebuilt in order, like
  /// flanneld's bootstrap. Returns what was missing, if anything.
  std::optional<std::string> Resync();

 private:
  std::unique_ptr<cni::fw::Backend> backend_;
  std::map<cni::fw::Family, std::vector<cni::fw::Chain>> chains_;
};

}  // namespace weft::agent
