// ipMasq rules of bridge; see masq.h. iptables changes go through fw::Backend (one transaction per
// family), nftables changes through fw::Nft (one batch).
#include "masq.h"

#include <functional>
#include <optional>

#include "cni/digest.h"
#include "cni/error.h"
#include "cni/fw/fw.h"
#include "cni/fw/names.h"
#include "cni/fw/nft.h"

namespace bridge {
namespace {

using cni::fw::Family;

constexpr const char* kNftTable = "cni_plugins_masquerade";

std::string HashForNetwork(const std::string& net) { return cni::Sha512Hex(net).substr(0, 16); }
std::string HashForInstance(const std::string& net, const std::string& ifname,
                            const std::string& cid) {
  return HashForNetwork(net) + "-" + cni::Sha512Hex(ifname + ":" + cid).substr(0, 16);
}

std::string StripQuotes(std::string s) {
  std::erase(s, '"');
  return s;
}

cni::fw::Chain IptChain(const std::string& net, const std::string& cid, Family fam,
                        const std::vector<cni::IPNet>& addrs) {
  cni::fw::Chain c;
  c.table = "nat";
  c.name = cni::fw::FormatChainName(net, cid);
  c.entry_chains = {"POSTROUTING"};
  std::string comment = IptMasqComment(net, cid);
  bool masq_added = false;
  for (const auto& a : addrs) {
    if ((fam == Family::kIPv4) != a.ip.is4()) continue;
    // Same order as the reference's AppendUnique calls: ACCEPT of this address's subnet, then the
    // (single) MASQUERADE rule.
    cni::fw::Args accept = {"-d", a.Masked().String(), "-j", "ACCEPT", "-m", "comment", "--comment", comment};
    if (std::find(c.rules.begin(), c.rules.end(), accept) == c.rules.end()) c.rules.push_back(accept);
    if (!masq_added) {
      c.rules.push_back({"!", "-d", a.ip.is4() ? "224.0.0.0/4" : "ff00::/8", "-j", "MASQUERADE", "-m",
                         "comment", "--comment", comment});
      masq_added = true;
    }
    cni::fw::Args entry = {"-s", a.ip.String(), "-m", "comment", "--comment", comment};
    if (std::find(c.entry_rules.begin(), c.entry_rules.end(), entry) == c.entry_rules.end())
      c.entry_rules.push_back(entry);
  }
  return c;
}

std::unique_ptr<cni::fw::Backend> Ipt() {
  return cni::fw::MakeIptablesBackend(cni::fw::DetectIptablesKind());
}

std::string NftRuleFor(const cni::IPNet& a, const std::string& comment) {
  const char* fam = a.ip.is4() ? "ip" : "ip6";
  return std::string("add rule inet ") + kNftTable + " masq_checks " + fam + " saddr " +
         a.ip.String() + " " + fam + " daddr != " + a.Masked().String() + " masquerade comment " +
         cni::fw::NftComment(comment) + "\n";
}

// Batch lines deleting the masq_checks rules whose comment `match` accepts.
std::string NftDeleteRules(cni::fw::Nft& nft, const std::function<bool(const std::string&)>& match) {
  std::string batch;
  for (const auto& r : nft.ListRules("inet", kNftTable))
    if (r.chain == "masq_checks" && match(r.comment))
      batch += std::string("delete rule inet ") + kNftTable + " masq_checks handle " +
               std::to_string(r.handle) + "\n";
  return batch;
}

// ... of one attachment: their comment starts with its instance hash (HashForInstance).
std::string NftDeleteInstanceRules(cni::fw::Nft& nft, const std::string& inst) {
  return NftDeleteRules(nft, [&](const std::string& comment) { return comment.rfind(inst, 0) == 0; });
}

}  // namespace

std::string IptMasqComment(const std::string& net, const std::string& cid) {
  return "name: " + cni::fw::GoQuote(net) + " id: " + cni::fw::GoQuote(cid);
}

std::string NftMasqComment(const std::string& net, const std::string& ifname, const std::string& cid) {
  std::string c = HashForInstance(net, ifname, cid) + ", net: " + StripQuotes(net) +
                  ", if: " + StripQuotes(ifname) + ", id: " + StripQuotes(cid);
  if (c.size() > 128) c.resize(128);
  return c;
}

std::string MasqBackend(const NetConf& n) {
  if (!n.ip_masq_backend.empty()) return n.ip_masq_backend;
  if (!cni::fw::IptablesUsable() && cni::fw::Nft::Usable()) return "nftables";
  return "iptables";
}

void SetupMasq(const NetConf& n, const std::string& cid, const std::string& ifname,
               const std::vector<cni::IPNet>& addrs) {
  if (MasqBackend(n) == "iptables") {
    auto be = Ipt();
    for (Family fam : {Family::kIPv4, Family::kIPv6}) {
      auto c = IptChain(n.name, cid, fam, addrs);
      if (c.entry_rules.empty()) continue;
      be->Ensure(fam, std::span(&c, 1));
    }
    return;
  }
  cni::fw::Nft nft;
  std::string batch = std::string("add table inet ") + kNftTable +
                      " { comment \"Masquerading for plugins from github.com/containernetworking/plugins\" ; }\n"
                      "add chain inet " + kNftTable +
                      " masq_checks { comment \"Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet\" ; }\n"
                      "add chain inet " + kNftTable +
                      " postrouting { type nat hook postrouting priority 100 ; }\n"
                      "flush chain inet " + kNftTable + " postrouting\n"
                      "add rule inet " + kNftTable + " postrouting ip daddr 224.0.0.0/4 return\n"
                      "add rule inet " + kNftTable + " postrouting ip6 daddr ff00::/8 return\n"
                      "add rule inet " + kNftTable + " postrouting goto masq_checks\n";
  batch += NftDeleteInstanceRules(nft, HashForInstance(n.name, ifname, cid));
  std::string comment = NftMasqComment(n.name, ifname, cid);
  for (const auto& a : addrs) batch += NftRuleFor(a, comment);
  nft.Run(batch);
}

void TeardownMasq(const NetConf& n, const std::string& cid, const std::string& ifname, bool v4,
                  bool v6) {
  // The chain name depends only on (network, container ID) and the nft rules carry the instance
  // hash: no address is needed to find them.
  if (MasqBackend(n) == "iptables") {
    auto ipt = Ipt();
    auto c = IptChain(n.name, cid, Family::kIPv4, {});
    if (v4) ipt->Remove(Family::kIPv4, std::span(&c, 1));
    if (v6 && ipt->Usable(Family::kIPv6)) ipt->Remove(Family::kIPv6, std::span(&c, 1));
    return;
  }
  cni::fw::Nft nft;
  std::string batch = NftDeleteInstanceRules(nft, HashForInstance(n.name, ifname, cid));
  if (!batch.empty()) nft.Run(batch);
}

std::optional<std::string> CheckMasq(const NetConf& n, const std::string& cid,
                                     const std::string& ifname,
                                     const std::vector<cni::IPNet>& addrs) {
  if (MasqBackend(n) == "iptables") {
    auto be = Ipt();
    for (Family fam : {Family::kIPv4, Family::kIPv6}) {
      auto c = IptChain(n.name, cid, fam, addrs);
      if (c.entry_rules.empty()) continue;
      if (auto miss = be->Check(fam, std::span(&c, 1))) return miss;
    }
    return std::nullopt;
  }
  cni::fw::Nft nft;
  std::string comment = NftMasqComment(n.name, ifname, cid);
  size_t found = 0;
  for (const auto& r : nft.ListRules("inet", kNftTable))
    if (r.chain == "masq_checks" && r.comment == comment) ++found;
  if (found < addrs.size())
    return "masquerade rule for " + cid + " not found in inet " + std::string(kNftTable);
  return std::nullopt;
}

void GcMasq(const NetConf& n, const std::set<std::pair<std::string, std::string>>& valid) {
  cni::ErrorList errs;
  if (cni::fw::IptablesUsable()) {
    errs.Try([&] {
      std::set<std::string> keep;
      for (const auto& [cid, ifname] : valid) keep.insert(cni::fw::FormatChainName(n.name, cid));
      // iptables-save prints the comment quoted, with the Go-quoted name's quotes escaped.
      std::string marker = "name: \\\"" + n.name + "\\\" id: ";
      auto ipt = Ipt();
      for (Family fam : {Family::kIPv4, Family::kIPv6}) {
        if (!ipt->Usable(fam)) continue;
        std::vector<cni::fw::Chain> stale;
        std::set<std::string> seen;
        auto tables = ipt->List(fam, "nat");
        for (const std::string& rule : tables["POSTROUTING"]) {
          if (rule.find(marker) == std::string::npos) continue;
          auto j = rule.rfind("-j CNI-");
          if (j == std::string::npos) continue;
          std::string chain = rule.substr(j + 3);
          if (keep.count(chain) || !seen.insert(chain).second) continue;
          cni::fw::Chain c;
          c.name = chain;
          c.entry_chains = {"POSTROUTING"};
          stale.push_back(c);
        }
        if (!stale.empty()) ipt->Remove(fam, stale);
      }
    });
  }
  if (cni::fw::Nft::Usable()) {
    errs.Try([&] {
      std::set<std::string> keep;
      for (const auto& [cid, ifname] : valid) keep.insert(HashForInstance(n.name, ifname, cid));
      std::string net_hash = HashForNetwork(n.name);
      cni::fw::Nft nft;
      std::string batch = NftDeleteRules(nft, [&](const std::string& comment) {
        return comment.rfind(net_hash, 0) == 0 && !keep.count(comment.substr(0, 33));
      });
      if (!batch.empty()) nft.Run(batch);
    });
  }
  errs.ThrowIfAny();
}

}  // namespace bridge
