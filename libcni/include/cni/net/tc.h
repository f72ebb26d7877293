// Traffic control (qdiscs, filters, actions) over a net::Socket, for the bandwidth plugin: a
// token bucket filter (tbf) qdisc, the ingress qdisc, a u32 match-all filter with mirred
// redirect actions, and a dump of a link's qdiscs. Requests carry exactly the attributes the
// reference plugins' netlink library sends (tc_tbf_qopt with the caller's buffer in ticks and
// TCA_TBF_RATE64 above 4 GiB/s, no rate table), so the kernel holds the same state and a
// CHECK of either implementation accepts the other's; the libnl-route-3 tbf API computes the
// buffer itself and takes int rates (at most ~17 Gbit/s), so messages are built with libnl's
// nl_msg API as in netlink.cpp. Errors are NetlinkError whose message is the errno text as Go
// prints it ("file exists"); callers put the reference's context in front.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cni/net/netlink.h"

namespace cni::net {

/// tc handles "major:minor".
constexpr uint32_t TcHandle(uint32_t major, uint32_t minor) { return (major << 16) | (minor & 0xffff); }
inline constexpr uint32_t kTcHandleRoot = 0xffffffff;     // TC_H_ROOT
inline constexpr uint32_t kTcHandleIngress = 0xfffffff1;  // TC_H_INGRESS

/// Token bucket parameters as the kernel takes them.
struct Tbf {
  uint64_t rate = 0;    // bytes per second
  uint32_t limit = 0;   // bytes queued at most
  uint32_t buffer = 0;  // bucket size in psched ticks
  auto operator<=>(const Tbf&) const = default;
};

struct Qdisc {
  int index = 0;         // link
  uint32_t handle = 0;
  uint32_t parent = 0;
  std::string kind{};    // "tbf", "ingress", "pfifo_fast", "noqueue", ...
  std::optional<Tbf> tbf{};
  auto operator<=>(const Qdisc&) const = default;
};

/// A mirred action: `eaction` TCA_EGRESS_REDIR (1) etc., `action` the TC_ACT_* verdict after it
/// (TC_ACT_STOLEN = 4, TC_ACT_OK = 0, shown by tc as "stolen" and "pass").
struct Mirred {
  int action = 4;
  int eaction = 1;
  int ifindex = 0;
};

/// A u32 filter that matches every packet (one zero key, terminal) and runs `actions` in order.
struct U32MatchAll {
  int index = 0;            // link
  uint32_t parent = 0;      // the qdisc, e.g. TcHandle(0xffff, 0) for ingress
  uint16_t priority = 0;
  uint16_t protocol = 0x0003;  // ETH_P_ALL, host order
  uint32_t classid = 0;
  std::vector<Mirred> actions{};
};

/// The psched clock's ticks per microsecond, read once from /proc/net/psched as the reference's
/// netlink library reads it (15.625 on current kernels).
double TcTicksPerUsec();

/// Adds a tbf qdisc (NLM_F_CREATE|NLM_F_EXCL: an existing one is "file exists").
void AddTbfQdisc(Socket& s, int index, uint32_t handle, uint32_t parent, const Tbf& tbf);
/// Adds the ingress qdisc (handle ffff:).
void AddIngressQdisc(Socket& s, int index);
void AddU32Filter(Socket& s, const U32MatchAll& f);
/// The qdiscs of link `index`, in the kernel's order (root first).
std::vector<Qdisc> Qdiscs(Socket& s, int index);

}  // namespace cni::net
