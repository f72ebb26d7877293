// The firewall layer. Plugins describe their iptables rules as data, fw::Chain values (table,
// chain, the jumps into it from other chains, its rules, as iptables argument vectors), and ask a
// fw::Backend to Ensure, Check or Remove them. Every call is one transaction: one libiptc commit
// (iptables-legacy), one nf_tables batch written in-process with the expressions iptables-nft
// itself writes (iptables on nf_tables; one iptables-restore process only to create a missing
// table), never a process per rule as the reference does. Rules are parsed into a canonical form equal to what iptables-save
// prints, so "is this rule already there?" is a string comparison with the saved table and the
// rules land exactly where and how the reference's rules do.
// The native nftables layout of the reference is different (rules tagged by comment in shared
// chains), so it has its own API in cni/fw/nft.h.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cni::fw {

enum class Family { kIPv4 = 4, kIPv6 = 6 };

using Args = std::vector<std::string>;

/// One rule parsed from iptables arguments ("-p tcp --dport 80 -j DNAT --to-destination ...").
/// Canonical() is the rule exactly as iptables-save prints it after "-A CHAIN ".
struct Rule {
  struct Option {
    std::string name;   // "--dport"
    std::string value;  // "80" (empty for flag options)
    bool negated = false;
  };
  struct Match {
    std::string name;  // "tcp", "comment", "multiport", "addrtype", "mark", ...
    std::vector<Option> options;
  };
  std::string src, dst;  // canonical "10.0.0.0/24" (masked), empty for any
  bool src_neg = false, dst_neg = false;
  std::string in_iface, out_iface;
  bool in_neg = false, out_neg = false;
  std::string proto;  // "tcp", "udp", "sctp", "icmp"... empty for all
  bool proto_neg = false;
  std::vector<Match> matches;
  std::string target;  // "ACCEPT", "DNAT", a chain name, or empty (no target)
  std::vector<Option> target_options;

  /// Parses an argument vector; throws cni::Error for options it does not know and for rules
  /// outside the closed set the writers encode (see CheckWritable in the fw layer's xt.h).
  static Rule Parse(Family family, std::span<const std::string> args);
  std::string Canonical() const;
};

/// Throws cni::Error (999) unless `name` can be an iptables chain or target name: 1 to 28
/// printable characters, no white space or quotes, not starting with '-' or '!' (names are
/// written into iptables-restore scripts, so nothing may break out of a line or token).
void CheckChainName(std::string_view name);
/// The same for an interface name in -i/-o: 1 to 15 characters, none of them white space,
/// control characters, quotes or '/'; a trailing '+' (wildcard) is allowed.
void CheckInterfaceName(std::string_view name);

/// What Remove does with a chain.
enum class TeardownPolicy {
  kOnComplete,  // Remove deletes the jumps into it, flushes and deletes it
  kNever,       // shared chains (CNI-HOSTPORT-DNAT ...): Remove leaves them alone
  kRulesOnly,   // shared chains holding per-container rules (the firewall plugin's CNI-FORWARD):
                // Remove deletes this chain's listed rules (head_rules and rules) and keeps the
                // chain and the jumps into it
};

/// A chain with its rules and the rules that jump into it.
struct Chain {
  std::string table = "nat";
  std::string name;
  std::vector<std::string> entry_chains;  // chains that jump here (built-in or not)
  std::vector<Args> entry_rules;          // match arguments of each jump; "-j <name>" is appended
  std::vector<Args> rules;                // the chain's own rules, in order
  std::vector<Args> head_rules;           // rules that belong in front of all others (before a
                                          // final RETURN): a missing one is inserted at position 1
  bool prepend_entry = false;             // insert the jumps at position 1 instead of appending
  TeardownPolicy teardown = TeardownPolicy::kOnComplete;
};

enum class BackendKind { kIptablesLegacy, kIptablesNft, kNftables };
std::string_view BackendName(BackendKind kind);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;

  /// Creates missing chains, appends missing rules and missing jumps, in one transaction.
  /// Rules already present (same canonical text) are not added again.
  virtual void Ensure(Family family, std::span<const Chain> chains) = 0;

  /// For every chain with TeardownPolicy::kOnComplete: deletes every rule of its entry chains
  /// that jumps to it, flushes and deletes it; one transaction. A missing chain is success.
  virtual void Remove(Family family, std::span<const Chain> chains) = 0;

  /// nullopt when every chain exists with all its rules and jumps; otherwise what is missing,
  /// in the reference's words ("chain X not found in iptables table nat").
  virtual std::optional<std::string> Check(Family family, std::span<const Chain> chains) = 0;

  /// Whether a chain exists.
  virtual bool ChainExists(Family family, std::string_view table, std::string_view chain) = 0;

  /// Every chain of `table` with its rules in canonical form (for GC and tests).
  virtual std::map<std::string, std::vector<std::string>> List(Family family,
                                                               std::string_view table) = 0;

  /// Whether this backend can be used for `family` here (tables readable).
  virtual bool Usable(Family family) = 0;

  /// Work for the moment the next Ensure or Remove has committed, e.g. flushing conntrack
  /// entries that must not outlive the old rules. The iptables-nft backend runs it as soon as it
  /// sees a deleting commit: its in-process batch's answer, or the commit of its iptables-restore
  /// child while that is still exiting (that exit waits for an RCU grace period, ~13 ms, which
  /// the hook then overlaps); else once the transaction is over or there was nothing to change. Other backends, and failed transactions, leave the
  /// hook unrun: RanAtCommit() tells the caller whether it still has to do the work itself.
  void RunAtCommit(std::function<void()> hook) { at_commit_ = std::move(hook); }
  bool RanAtCommit() const { return ran_at_commit_; }

 protected:
  void CommitDone() {
    if (!at_commit_) return;
    std::function<void()> hook = std::move(at_commit_);
    at_commit_ = nullptr;
    ran_at_commit_ = true;
    hook();
  }

 private:
  std::function<void()> at_commit_;
  bool ran_at_commit_ = false;
};

/// The iptables backend the host's `iptables` command uses: nf_tables or legacy, found through
/// the binary the `iptables` on PATH resolves to (the Debian alternatives symlink), cached.
BackendKind DetectIptablesKind();

/// Whether the host's iptables can be driven at all (its tools are installed), without running
/// them: the "iptables unless unusable" half of the reference's automatic choice.
bool IptablesUsable();

/// Backend for a config key value: "" (auto) and "iptables" pick DetectIptablesKind(); "nftables"
/// is the native nftables backend (use cni/fw/nft.h for it; this returns nullptr then).
std::unique_ptr<Backend> MakeIptablesBackend(BackendKind kind);

/// iptables on nf_tables: reads recorded or checked in-process (else iptables-save), writes as one
/// in-process nf_tables batch (else one iptables-restore --noflush). `legacy`: iptables-legacy
/// through iptables-legacy-save and iptables-legacy-restore (the static build's legacy path).
std::unique_ptr<Backend> MakeRestoreBackend(bool legacy);

/// iptables-legacy in-process through libiptc, holding /run/xtables.lock for the whole call.
std::unique_ptr<Backend> MakeIptcBackend();

/// How long a call waits for the xtables lock before failing with code 11 (try again later).
inline constexpr int kLockTimeoutMs = 10000;
inline constexpr const char* kXtablesLock = "/run/xtables.lock";

}  // namespace cni::fw
