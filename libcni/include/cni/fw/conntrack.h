// Stale conntrack entries. A UDP (or SCTP) flow to a host port keeps its old DNAT target in the
// conntrack table as long as packets keep coming, so a pod re-created on the same host port
// would never see that traffic. portmap deletes those entries over ctnetlink
// (libnetfilter_conntrack), on ADD as the reference does and on DEL as well.
#pragma once

#include <cstdint>
#include <span>

#include "cni/fw/fw.h"

namespace cni::fw {

/// Deletes the conntrack entries of `family` with layer-4 protocol `proto` (IPPROTO_UDP,
/// IPPROTO_SCTP, ...) whose original destination port is one of `ports`, in one dump and one
/// delete per match. Returns how many were deleted; throws cni::Error on netlink failures.
int DeleteConntrackByDport(Family family, uint8_t proto, std::span<const uint16_t> ports);

}  // namespace cni::fw
