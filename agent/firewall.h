// flanneld's iptables chains as fw::Chain data (flannel §4.1, §4.2): FLANNEL-POSTRTG in nat
// (jumped to from POSTROUTING, comment "flanneld masq") and FLANNEL-FWD in filter (jumped to
// from FORWARD, comment "flanneld forward"), kept in place by a periodic check.
#pragma once

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
  /// Replaces the wanted chain set; chains of a previous set are removed first (a changed
  /// subnet must not leave the old RETURN/MASQUERADE rules behind).
  void Set(std::vector<cni::fw::Chain> chains);
  /// Re-checks; when any rule or jump is missing the chains are rebuilt in order, like
  /// flanneld's bootstrap. Returns what was missing, if anything.
  std::optional<std::string> Resync();

 private:
  std::unique_ptr<cni::fw::Backend> backend_;
  std::vector<cni::fw::Chain> chains_;
};

}  // namespace weft::agent
