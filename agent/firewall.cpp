// flanneld's masquerade and forward rules in its iptables and nftables layouts (see firewall.h).
#include "agent/firewall.h"

#include "cni/error.h"

namespace weft::agent {

using cni::fw::Args;
using cni::fw::Chain;
using cni::fw::Family;

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

void RuleKeeper::Set(Family family, const cni::IPNet& network, const cni::IPNet& subnet) {
  std::vector<Chain>& have = chains_[family];
  if (!have.empty()) backend_->Remove(family, have);
  have.clear();
  if (opts_.masq) have.push_back(MasqChain(network, subnet, opts_.random_fully));
  if (opts_.forward) have.push_back(ForwardChain(network));
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
    const std::string what = (family == Family::kIPv6 ? "ip6tables: " : "") + *m;
    missing = missing ? *missing + "; " + what : what;
  }
  return missing;
}

// ---- nftables ----

namespace {

const char* Word(Family f) { return f == Family::kIPv4 ? "ip" : "ip6"; }

}  // namespace

std::string NftTable(Family family) { return family == Family::kIPv4 ? "ip flannel-ipv4" : "ip6 flannel-ipv6"; }

// flanneld writes "meta mark 0x4000" (an exact mark, not kube-proxy's masked test); nft prints
// it as 0x00004000. Its fourth rule is `saddr != <pod>`, where iptables has `! -s <cluster>`.
std::vector<std::string> NftMasqRules(const cni::IPNet& network, const cni::IPNet& subnet, bool fully_random) {
  const std::string f = network.ip.is4() ? "ip" : "ip6", n = network.String(), s = subnet.String();
  const std::string masq = fully_random ? "masquerade fully-random" : "masquerade";
  const std::string multicast = network.ip.is4() ? "224.0.0.0/4" : "ff00::/8";
  return {
      "meta mark 0x00004000 return",
      f + " saddr " + s + " " + f + " daddr " + n + " return",
      f + " saddr " + n + " " + f + " daddr " + s + " return",
      f + " saddr != " + s + " " + f + " daddr " + n + " return",
      f + " saddr " + n + " " + f + " daddr != " + multicast + " " + masq,
      f + " saddr != " + n + " " + f + " daddr " + n + " " + masq,
  };
}

std::vector<std::string> NftForwardRules(const cni::IPNet& network) {
  const std::string f = network.ip.is4() ? "ip" : "ip6", n = network.String();
  return {f + " saddr " + n + " accept", f + " daddr " + n + " accept"};
}

// "add table" then "delete table" makes the delete succeed on an absent table (nft 1.0.6 has
// no "destroy"); the new table follows in the same transaction, so there is no moment without
// the rules and no chain of an earlier configuration survives.
std::string NftBatch(Family family, const std::vector<std::string>& postrtg, const std::vector<std::string>& forward) {
  const std::string t = NftTable(family), name = t.substr(t.find(' ') + 1);
  std::string b = "add table " + t + "\ndelete table " + t + "\n";
  b += "add table " + t + " { comment \"rules for " + name + "\" ; }\n";
  auto chain = [&](const char* c, const char* spec, const char* comment, const std::vector<std::string>& rules) {
    if (rules.empty()) return;
    b += "add chain " + t + " " + c + " { " + spec + " ; comment \"" + comment + "\" ; }\n";
    for (const std::string& r : rules) b += "add rule " + t + " " + c + " " + r + "\n";
  };
  chain("postrtg", "type nat hook postrouting priority srcnat", "chain to manage traffic masquerading by flannel",
        postrtg);
  chain("forward", "type filter hook forward priority filter", "chain to accept flannel traffic", forward);
  return b;
}

std::string NftFullyRandomProbe(Family family) {
  const std::string t = NftTable(family);
  return "add table " + t + "\nadd chain " + t +
         " masqueradeTest { type nat hook postrouting priority srcnat ; comment \"chain to test if masquerade random "
         "fully is supported\" ; }\nadd rule " +
         t + " masqueradeTest " + Word(family) + " saddr != " + (family == Family::kIPv4 ? "127.0.0.1" : "::1") +
         " masquerade fully-random\n";
}

void NftKeeper::Set(Family family, const cni::IPNet& network, const cni::IPNet& subnet) {
  Want w;
  if (opts_.masq) {
    bool fully_random = false;
    if (opts_.random_fully) {
      auto it = fully_random_.find(family);
      if (it == fully_random_.end()) it = fully_random_.emplace(family, nft_.Check(NftFullyRandomProbe(family))).first;
      fully_random = it->second;
    }
    w.postrtg = NftMasqRules(network, subnet, fully_random);
  }
  if (opts_.forward) w.forward = NftForwardRules(network);
  // Wanted before it is applied: a failed apply is retried by the next Resync.
  Want& have = want_[family] = std::move(w);
  Apply(family, have);
}

void NftKeeper::Apply(Family family, const Want& w) { nft_.Run(NftBatch(family, w.postrtg, w.forward)); }

std::optional<std::string> NftKeeper::Resync() {
  std::optional<std::string> missing;
  for (const auto& [family, w] : want_) {
    const std::string t = NftTable(family);
    std::map<std::string, std::vector<std::string>> have;
    for (const cni::fw::NftRule& r : nft_.ListRules(Word(family), t.substr(t.find(' ') + 1)))
      have[r.chain].push_back(r.text);
    std::string what;
    for (const auto& [chain, rules] : {std::pair{"postrtg", &w.postrtg}, std::pair{"forward", &w.forward}}) {
      auto it = have.find(chain);
      const bool same = it == have.end() ? rules->empty() : it->second == *rules;
      if (!same) what += std::string(what.empty() ? "" : ", ") + "chain " + chain + " of table " + t + " differs";
    }
    if (what.empty()) continue;
    Apply(family, w);
    missing = missing ? *missing + "; " + what : what;
  }
  return missing;
}

void DeleteIptablesChains() {
  if (!cni::fw::IptablesUsable()) return;
  auto backend = cni::fw::MakeIptablesBackend(cni::fw::DetectIptablesKind());
  if (!backend) return;
  Chain postrtg, fwd;
  postrtg.table = "nat";
  postrtg.name = "FLANNEL-POSTRTG";
  postrtg.entry_chains = {"POSTROUTING"};
  fwd.table = "filter";
  fwd.name = "FLANNEL-FWD";
  fwd.entry_chains = {"FORWARD"};
  for (Family f : {Family::kIPv4, Family::kIPv6})
    if (backend->Usable(f)) backend->Remove(f, std::vector<Chain>{postrtg, fwd});
}

void DeleteNftTables() {
  if (!cni::fw::Nft::Usable()) return;
  cni::fw::Nft nft;
  std::string b;
  for (Family f : {Family::kIPv4, Family::kIPv6})
    b += "add table " + NftTable(f) + "\ndelete table " + NftTable(f) + "\n";
  nft.Run(b);
}

}  // namespace weft::agent
