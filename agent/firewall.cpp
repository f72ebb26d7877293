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
      rule({"-s", n, "!", "-d", network.ip.is4() ? "224.0.0.0/4" : "ff00::/8"}, masq),
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

void RuleKeeper::Set(cni::fw::Family family, std::vector<Chain> chains) {
  std::vector<Chain>& have = chains_[family];
  if (!have.empty()) backend_->Remove(family, have);
  have = std::move(chains);
  if (have.empty()) return;
  // Start from empty chains so the rule order is exactly ours (flanneld's ClearChain).
  backend_->Remove(family, have);
  backend_->Ensure(family, have);
}

std::optional<std::string> RuleKeeper::Resync() {
  std::optional<std::string> missing;
  for (const auto& [family, chains] : chains_) {
    if (chains.empty()) continue;
    auto m = backend_->Check(family, chains);
    if (!m) continue;
    backend_->Remove(family, chains);
    backend_->Ensure(family, chains);
    const std::string what = (family == cni::fw::Family::kIPv6 ? "ip6tables: " : "") + *m;
    missing = missing ? *missing + "; " + what : what;
  }
  return missing;
}

}  // namespace weft::agent
