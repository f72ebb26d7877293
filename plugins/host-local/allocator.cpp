// Allocation: see allocator.h.
#include "allocator.h"

#include "cni/error.h"

namespace hostlocal {

using cni::Error;
using cni::IP;

RangeIter::RangeIter(const RangeSet& set, const std::optional<IP>& last_reserved) : set_(set) {
  if (last_reserved) {
    for (size_t i = 0; i < set.ranges.size(); ++i) {
      if (set.ranges[i].Contains(*last_reserved)) {
        range_idx_ = i;
        cur_ = *last_reserved;  // the first Next() returns last_reserved + 1
        return;
      }
    }
  }
  start_ip_ = set.ranges[0].range_start;
}

std::optional<std::pair<IP, const Range*>> RangeIter::Next() {
  // A loop instead of the reference's recursion for skipped gateways.
  for (;;) {
    const Range* r = &set_.ranges[range_idx_];
    if (!cur_.valid()) {
      cur_ = r->range_start;
      start_ip_ = cur_;
      if (cur_ == r->gateway) continue;
      return std::make_pair(cur_, r);
    }
    if (cur_ == r->range_end) {
      range_idx_ = (range_idx_ + 1) % set_.ranges.size();
      r = &set_.ranges[range_idx_];
      cur_ = r->range_start;
    } else {
      cur_ = cur_.Next();
    }
    if (!start_ip_.valid()) {
      start_ip_ = cur_;
    } else if (cur_ == start_ip_) {
      return std::nullopt;  // back where we started: exhausted
    }
    if (cur_ == r->gateway) continue;
    return std::make_pair(cur_, r);
  }
}

cni::IPConfig Allocator::Get(std::string_view id, std::string_view ifname, const std::optional<IP>& requested) {
  std::optional<std::pair<IP, const Range*>> got;
  if (requested) {
    const Range* r = set_.RangeFor(*requested);
    if (!r) throw Error(cni::kInternal, requested->String() + " not in range set " + set_.String());
    if (*requested == r->gateway) {
      throw Error(cni::kInternal, "requested ip " + requested->String() + " is subnet's gateway");
    }
    if (!store_.Reserve(id, ifname, *requested, range_id_)) {
      throw Error(cni::kInternal, "requested IP address " + requested->String() + " is not available in range set " +
                                      set_.String());
    }
    got = std::make_pair(*requested, r);
  } else {
    for (const IP& ip : store_.GetByID(id, ifname)) {
      if (set_.Contains(ip)) {
        throw Error(cni::kInternal, ip.String() + " has been allocated to " + std::string(id) +
                                        ", duplicate allocation is not allowed");
      }
    }
    RangeIter it(set_, store_.LastReservedIP(range_id_));
    while (auto cand = it.Next()) {
      if (store_.Reserve(id, ifname, cand->first, range_id_)) {
        got = cand;
        break;
      }
    }
  }
  if (!got) throw Error(cni::kInternal, "no IP addresses available in range set: " + set_.String());
  cni::IPConfig out;
  out.address = cni::IPNet{got->first, got->second->subnet.prefix};
  out.gateway = got->second->gateway;
  return out;
}

}  // namespace hostlocal
