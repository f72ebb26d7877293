// The reference's allocation algorithm (cni-plugins.md §3.3): per range set, a requested
// address or else a round-robin walk that starts after last_reserved_ip.<N>, skips each
// range's gateway, wraps across the set's ranges and gives up when it comes back to its first
// candidate. The same sequence of ADD/DEL on the same state yields the same addresses.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include "cni/result.h"
#include "config.h"
#include "store.h"

namespace hostlocal {

/// Iterates the candidate addresses of a range set (reference RangeIter).
class RangeIter {
 public:
  /// Starts after `last_reserved` when the set contains it, else at rangeStart of range 0.
  RangeIter(const RangeSet& set, const std::optional<cni::IP>& last_reserved);
  /// The next candidate and the range it belongs to; nullopt when the set is exhausted.
  std::optional<std::pair<cni::IP, const Range*>> Next();
  /// The first candidate produced (unset before the first Next); for tests.
  const cni::IP& start_ip() const { return start_ip_; }

 private:
  const RangeSet& set_;
  size_t range_idx_ = 0;
  cni::IP cur_;
  cni::IP start_ip_;
};

class Allocator {
 public:
  Allocator(const RangeSet& set, Store& store, int range_id) : set_(set), store_(store), range_id_(range_id) {}
  /// Reserves an address for id+ifname (the requested one if given). Throws cni::Error(999).
  cni::IPConfig Get(std::string_view id, std::string_view ifname, const std::optional<cni::IP>& requested);
  void Release(std::string_view id, std::string_view ifname) { store_.ReleaseByID(id, ifname); }

 private:
  const RangeSet& set_;
  Store& store_;
  int range_id_;
};

}  // namespace hostlocal
