// flanneld's masquerade and forward chains (see firewall.h).
#include "agent/firewall.h"

namespace weft::agent {

using cni::fw::Args;
using cni::fw::Chain;

Chain MasqChain(const cni::IPNet& network, const cni::IPNet& subnet, bool random_fully) {
  const std::string n = network.String(), s = subnet.String();
  const Args comment = {"-m", "comment", "--comment", "flanneld masq"};
  auto rule = [&](Args match, Args target) {
    match.insert(match.end(), comment.begin(), comment.end());
    match.insert(match.end(), target.begin(), target.end());
    return match;
  };
  Args masq = {"-j", "MASQUERADE"};
  if (random_fully) masq.push_back("--random-fully");
  Chain c;
  c.table = "nat";
  c.name = "FLANNEL-POSTRTG";
  c.entry_chains = {"POSTROUTING"};
  c.entry_rules = {comment};
  c.rules = {
      rule({"-m", "mark", "--mark", "0x4000/0x4000"}, {"-j", "RETURN"}),
      rule({"-s", s, "-d", n}, {"-j", "RETURN"}),
      rule({"-s", n, "-d", s}, {"-j", "RETURN"}),
      rule({"!", "-s", n, "-d", s}, {"-j", "RETURN"}),
      rule({"-s", n, "!", "-d", "224.0.0.0/4"}, masq),
      rule({"!", "-s", n, "-d", n}, masq),
  };
  return c;
}

Chain ForwardChain(const cni::IPNet& network) {
  const std::string n = network.String();
  const Args comment = {"-m", "comment", "--comment", "flanneld forward"};
  Chain c;
  c.table = "filter";
  c.name = "FLANNEL-FWD";
  c.entry_chains = {"FORWARD"};
  c.entry_rules = {comment};
  c.rules = {{"-s", n, "-m", "comment", "--comment", "flanneld forward", "-j", "ACCEPT"},
             {"-d", n, "-m", "comment", "--comment", "flanneld forward", "-j", "ACCEPT"}};
  return c;
}

void RuleKeeper::Set(std::vector<Chain> chains) {
  if (!chains_.empty()) backend_->Remove(cni::fw::Family::kIPv4, chains_);
  chains_ = std::move(chains);
  if (chains_.empty()) return;
  // Start from empty chains so the rule order is exactly ours (flanneld's ClearChain).
  backend_->Remove(cni::fw::Family::kIPv4, chains_);
  backend_->Ensure(cni::fw::Family::kIPv4, chains_);
}

std::optional<std::string> RuleKeeper::Resync() {
  if (chains_.empty()) return std::nullopt;
  auto missing = backend_->Check(cni::fw::Family::kIPv4, chains_);
  if (missing) {
    backend_->Remove(cni::fw::Family::kIPv4, chains_);
    backend_->Ensure(cni::fw::Family::kIPv4, chains_);
  }
  return missing;
}

}  // namespace weft::agent
