// flanneld's masquerade and forward rules, kept in place by a periodic check, in either of its
// two layouts:
// - iptables (flannel §4.1, §4.2): FLANNEL-POSTRTG in nat (jumped to from POSTROUTING, comment
//   "flanneld masq") and FLANNEL-FWD in filter (jumped to from FORWARD, comment "flanneld
//   forward") as fw::Chain data, through libcni's iptables backends;
// - nftables (`EnableNFTables`, flannel §4.4): `table ip flannel-ipv4` / `table ip6
//   flannel-ipv6` with base chains `postrtg` (nat, postrouting, srcnat) and `forward` (filter,
//   forward, filter), through cni::fw::Nft (libnftables in-process; the static release runs
//   nft), one transaction per family and apply.
// Dual stack: the same rules per family with the IPv6 network and subnet (multicast ff00::/8
// instead of 224.0.0.0/4). At start-up each mode removes what the other one leaves behind.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cni/fw/fw.h"
#include "cni/fw/nft.h"
#include "cni/ip.h"

namespace weft::agent {

/// Which rule sets are wanted and how masquerading is done.
struct FirewallOptions {
  bool masq = false;         // --ip-masq
  bool forward = true;       // --iptables-forward-rules
  bool random_fully = true;  // !--ip-masq-fully-random-disable (still subject to support)
};

cni::fw::Chain MasqChain(const cni::IPNet& network, const cni::IPNet& subnet, bool random_fully = true);
cni::fw::Chain ForwardChain(const cni::IPNet& network);

/// flanneld's nftables rule bodies as `nft list` prints them, in order.
std::vector<std::string> NftMasqRules(const cni::IPNet& network, const cni::IPNet& subnet, bool fully_random);
std::vector<std::string> NftForwardRules(const cni::IPNet& network);
/// "ip flannel-ipv4" or "ip6 flannel-ipv6".
std::string NftTable(cni::fw::Family family);
/// One transaction that replaces the family's table with exactly these chains (empty lists:
/// the chain is left out).
std::string NftBatch(cni::fw::Family family, const std::vector<std::string>& postrtg,
                     const std::vector<std::string>& forward);
/// The dry run flanneld uses to learn whether `masquerade fully-random` is supported.
std::string NftFullyRandomProbe(cni::fw::Family family);

/// Owns the rules the agent wants and re-creates them when something removed one.
class FirewallKeeper {
 public:
  virtual ~FirewallKeeper() = default;
  /// Replaces the wanted rules of `family` (a changed subnet leaves no old rule behind).
  virtual void Set(cni::fw::Family family, const cni::IPNet& network, const cni::IPNet& subnet) = 0;
  /// Re-checks; when anything is missing or different the rules are rebuilt in order, like
  /// flanneld's bootstrap. Returns what was wrong, if anything.
  virtual std::optional<std::string> Resync() = 0;
  /// "iptables" or "nftables", for log lines.
  virtual const char* Name() const = 0;
};

class RuleKeeper : public FirewallKeeper {
 public:
  RuleKeeper(std::unique_ptr<cni::fw::Backend> backend, FirewallOptions opts)
      : backend_(std::move(backend)), opts_(opts) {}
  void Set(cni::fw::Family family, const cni::IPNet& network, const cni::IPNet& subnet) override;
  std::optional<std::string> Resync() override;
  const char* Name() const override { return "iptables"; }

 private:
  std::unique_ptr<cni::fw::Backend> backend_;
  FirewallOptions opts_;
  std::map<cni::fw::Family, std::vector<cni::fw::Chain>> chains_;
};

class NftKeeper : public FirewallKeeper {
 public:
  /// Throws cni::Error when libnftables (or, static, nft) cannot be used.
  explicit NftKeeper(FirewallOptions opts) : opts_(opts) {}
  void Set(cni::fw::Family family, const cni::IPNet& network, const cni::IPNet& subnet) override;
  std::optional<std::string> Resync() override;
  const char* Name() const override { return "nftables"; }

 private:
  struct Want {
    std::vector<std::string> postrtg, forward;
  };
  void Apply(cni::fw::Family family, const Want& w);

  cni::fw::Nft nft_;
  FirewallOptions opts_;
  std::map<cni::fw::Family, Want> want_;
  std::map<cni::fw::Family, bool> fully_random_;  // the probe's answer, once per family
};

/// Start-up in nftables mode: flanneld's iptables chains (both families) with their jumps are
/// removed, when iptables is installed at all.
void DeleteIptablesChains();
/// Start-up in iptables mode: the nftables tables of both families are deleted, when nftables
/// can be used at all.
void DeleteNftTables();

}  // namespace weft::agent
