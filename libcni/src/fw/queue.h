// Joint commits of the iptables-nft backend (internal to the fw layer).
//
// Every nf_tables transaction that deletes something waits for an RCU grace period (~14 ms on a
// 2-core VM), and the kernel runs one namespace's transactions one after another: 29 parallel
// iptables-restore runs that each delete one chain take 416 ms there. When many pods are torn
// down at once, that queue is the whole cost. So a caller that finds the namespace's lock taken
// leaves its request (family, Ensure or Remove, its chains) in /run/weft/fwq-<netns inode>/ and
// then waits for the lock as before. The holder, before it plans, takes every queued request of
// its family whose caller is still alive, plans them after its own on the same state, and
// commits everything in one iptables-restore; it marks those requests done before it lets the
// lock go, and their callers, once they get the lock, return at once. A joint commit that fails
// puts the requests back, and every caller then commits on its own, as without the queue.
//
// Files: "<pid>.<n>.req" (waiting), ".claimed" (taken by the holder), ".done" (committed). Only
// the lock holder claims or finishes, and a caller touches its own files only, so the lock
// orders every rename.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cni/fw/fw.h"

namespace cni::fw {

struct QueuedRequest {
  std::string base;  // path without the state suffix
  bool ensure = true;
  std::vector<Chain> chains;
};

class RequestQueue {
 public:
  explicit RequestQueue(uint64_t netns_inode);

  /// Caller side: queues a request; nullopt when it can't be written (then nobody joins it).
  std::optional<std::string> Submit(uint64_t cookie, Family family, bool ensure,
                                    std::span<const Chain> chains);
  /// Caller side, holding the lock: whether a holder committed the request (its files are gone
  /// then); otherwise the request is withdrawn and the caller commits it itself.
  bool TakeDone(const std::string& base);
  /// Caller side: removes the request whatever its state (after a lock timeout).
  void Withdraw(const std::string& base);

  /// Holder side: takes the waiting requests of `family` in namespace `cookie`.
  std::vector<QueuedRequest> Claim(uint64_t cookie, Family family);
  /// Holder side: marks claimed requests done, or puts them back to wait.
  void Finish(const std::vector<QueuedRequest>& claimed, bool committed);

  /// The request text (for tests and Claim).
  static std::string Serialize(uint64_t cookie, Family family, bool ensure,
                               std::span<const Chain> chains);
  static std::optional<QueuedRequest> Parse(const std::string& text, uint64_t cookie,
                                            Family family);

 private:
  std::string dir_;
};

}  // namespace cni::fw
