// What the iptables-nft backend knows without reading the tables (internal to the fw layer).
//
// Reading the rules of an nf_tables host the way iptables shows them costs a process
// (iptables-save or iptables -S): more than the write itself for a small change. But every
// change to a namespace's nf_tables ruleset, by anyone, bumps its generation ID, which one
// netlink request (NFT_MSG_GETGEN) returns in-process. So the backend remembers the chains a call
// read and the state its own transaction left behind, labelled with the generation that
// transaction produced; the next call in that namespace reuses them when the generation is still
// the same (nobody touched the ruleset since).
//
// When the generation did move (a kube-proxy sync, another plugin, an admin), a chain's record is
// still good if the chain's rules are: the record keeps a digest of each chain's rules as the
// kernel holds them (their expressions and comments, counters left out), and one netlink dump of
// that chain tells whether it still matches. A chain the record doesn't know is known without a
// read when the kernel says it does not exist. Only what neither answers costs an iptables read.
//
// The record lives in /run/weft/fw-nft-<netns inode>, a file that is also the per-namespace
// lock serialising weft's read-modify-write (iptables-nft itself takes no lock, so a lock shared
// by all namespaces, like /run/xtables.lock, would only make unrelated namespaces wait for each
// other). Two live namespaces never share an inode number, and numbers are reused, so the files
// stay as many as namespaces ever lived at once; the record also carries the netns cookie
// (SO_NETNS_COOKIE, never reused during a boot), so a new namespace that inherits an inode
// number ignores the old record.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "cni/files.h"
#include "nfnl.h"
#include "plan.h"

namespace cni::fw {

/// A NETLINK_NETFILTER socket in the calling thread's network namespace.
class NftGeneration {
 public:
  NftGeneration();  // never throws; ok() is false when the socket or the cookie is unavailable
  bool ok() const { return sock_.ok() && cookie_ != 0 && ino_ != 0; }
  uint64_t cookie() const { return cookie_; }
  uint64_t netns_inode() const { return ino_; }
  /// The current ruleset generation (NFT_MSG_GETGEN), nullopt on any failure.
  std::optional<uint32_t> Get();
  /// Whether `chain` exists in the iptables-nft table `table` (NFT_MSG_GETCHAIN); nullopt on any
  /// failure.
  std::optional<bool> HasChain(Family family, std::string_view table, std::string_view chain);
  /// A digest of the rules of `chain` in order (NFT_MSG_GETRULE dump; rule expressions and
  /// comments, counter values left out) as of generation `genid`. nullopt on any failure and when
  /// the dump was served from another generation. `*stamped` (optional) tells whether the dump
  /// said so: an empty chain's dump carries no generation (then ask Get()).
  std::optional<uint64_t> Print(Family family, std::string_view table, std::string_view chain,
                                uint32_t genid, bool* stamped = nullptr);
  /// The socket itself, for the batches of nftwrite.h.
  NfnlSocket& socket() { return sock_; }

 private:
  NfnlSocket sock_;
  uint64_t cookie_ = 0, ino_ = 0;
};

/// A subscription to this namespace's nf_tables events, to see the moment another process
/// commits: the kernel announces every commit with the new generation and the committing
/// process's pid (NFT_MSG_NEWGEN).
class CommitWatch {
 public:
  CommitWatch();  // never throws; fd() is -1 when the subscription is unavailable
  int fd() const { return fd_ ? fd_.get() : -1; }
  /// Drains the pending events. Returns true when watching is over: `pid`'s commit was seen
  /// (generation in *genid) or the subscription failed (lost events, *genid untouched).
  bool Drain(pid_t pid, std::optional<uint32_t>* genid);

 private:
  UniqueFd fd_;
};

/// (table, chain) pairs a call reads or changes.
using ChainKeys = std::vector<std::pair<std::string, std::string>>;

/// The chains known at one generation, per family and table.
struct StateCache {
  struct Table {
    bool complete = false;  // every chain of the table is known: a chain not listed is absent
    std::map<std::string, std::vector<std::string>> chains;
    std::set<std::string> absent;
    std::map<std::string, uint64_t> prints;  // NftGeneration::Print of a chain at `genid`
  };
  uint64_t cookie = 0;  // the namespace's
  std::optional<uint32_t> genid;
  std::map<std::pair<int, std::string>, Table> tables;  // (family, table)

  /// Text form (one record per line, ends with "end"); Parse gives an empty cache for anything
  /// incomplete or malformed.
  std::string Serialize() const;
  static StateCache Parse(std::string_view text);

  /// Fills `out` with the state of every key and returns true when all are known.
  bool Lookup(Family family, const ChainKeys& keys, std::map<std::string, TableState>& out) const;
  /// Records the state of `keys` as `states` holds it (a key missing from `states` is absent);
  /// `complete` marks the tables as fully known (a full iptables-save read).
  void Store(Family family, const ChainKeys& keys, const std::map<std::string, TableState>& states,
             bool complete);
};

/// Brings `cache` to generation `genid` for `keys` without reading the tables: a chain recorded at
/// an older generation is kept when its digest still matches the kernel's, and a chain the record
/// doesn't know is recorded absent when the kernel has no such chain. Returns whether every key is
/// then known (and the generation stayed `genid` meanwhile); the cache keeps only what is valid at
/// `genid` either way.
bool Refresh(StateCache& cache, NftGeneration& gen, uint32_t genid, Family family,
             const ChainKeys& keys);

/// Records the digests, at generation `genid`, of the chains among `keys` that the cache holds as
/// present; none when the generation moved on meanwhile.
void StorePrints(StateCache& cache, NftGeneration& gen, uint32_t genid, Family family,
                 const ChainKeys& keys);

/// "/run/weft/fw-nft-<netns inode>".
std::string StateCachePath(uint64_t netns_inode);

}  // namespace cni::fw
