// bandwidth: the chained meta plugin that shapes a container's traffic (the reference's
// plugins/meta/bandwidth, v1.1.1), on libcni's netlink layer (cni/net/tc.h). ADD finds the host
// end of the container's veth, puts a tbf qdisc on it for ingress (traffic towards the
// container) and, for egress, creates an ifb device named from the network and container ID,
// redirects the host veth's ingress to it with a u32 filter and shapes it with a tbf; the ifb is
// added to the result's interfaces. DEL deletes the ifb (the qdiscs on the veth go with it);
// CHECK compares the tbf parameters. Limits come from the config's top-level keys or, when none
// of them is present, from runtimeConfig.bandwidth (the `bandwidth` capability, what kubelet
// fills from a pod's annotations). `unshapedSubnets`/`shapedSubnets` exist only in the v1.5.x
// reference (reverted in v1.6.0) and are ignored here, as unknown keys are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cni/net/tc.h"
#include "cni/result.h"
#include "cni/skel.h"

namespace bandwidth {

/// Rates in bit/s, bursts in bits; 0 = no limit.
struct Entry {
  uint64_t ingress_rate = 0, ingress_burst = 0;
  uint64_t egress_rate = 0, egress_burst = 0;
  bool IsZero() const { return !ingress_rate && !ingress_burst && !egress_rate && !egress_burst; }
  bool operator==(const Entry&) const = default;
};

struct Config {
  std::string name;
  std::optional<Entry> bandwidth;  // the effective limits; nullopt when neither place has any
  std::optional<cni::Result> prev_result;
};

/// Parses and validates the config with the reference's messages (code 999, unwrapped).
Config ParseConfig(const cni::CallArgs& args);

/// "bwp" + hex(SHA-512(network + containerID)), cut to 15 characters.
std::string IfbName(std::string_view network, std::string_view container_id);

/// The tbf the reference programs for a rate and burst in bits: rate and burst in bytes, the
/// buffer as the burst's transmit time in ticks, the limit as 25 ms of rate plus the burst.
cni::net::Tbf TbfFor(uint64_t rate_bits, uint64_t burst_bits);

cni::PluginFuncs Funcs();

cni::Result Add(const cni::CallArgs& args);
void Del(const cni::CallArgs& args);
void Check(const cni::CallArgs& args);

}  // namespace bandwidth
