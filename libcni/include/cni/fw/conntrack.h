// Stale conntrack entries. A UDP (or SCTP) flow to a host port keeps its old DNAT target in the
// conntrack table as long as packets keep coming, so a pod re-created on the same host port
// would never see that traffic. portmap deletes those entries over ctnetlink
// (in-process, on a plain netlink socket), on ADD as the reference does and on DEL as well.
#pragma once

#include <cstdint>
#include <span>

#include "cni/fw/fw.h"

namespace cni::fw {

/// A layer-4 protocol (IPPROTO_UDP, IPPROTO_SCTP, ...) and an original destination port.
struct ProtoPort {
  uint8_t proto;
  uint16_t port;
};

/// Deletes the conntrack entries of `families` whose protocol and original destination port is
/// one of `targets`: one dump for all families (the kernel walks its whole conntrack hash for
/// every dump, about 3 ms at 262,144 buckets even when the namespace holds no entry), one
/// delete per match, and no dump at all when the namespace's table is empty
/// (net.netfilter.nf_conntrack_count is 0, or conntrack is not loaded). Returns how many were
/// deleted; throws cni::Error on netlink failures.
int DeleteConntrackByDport(std::span<const Family> families, std::span<const ProtoPort> targets);

}  // namespace cni::fw
