// The x_tables extension payloads weft's rules use (internal to the fw layer): the match and
// target info structs (tcp, udp, sctp, comment, multiport v1, addrtype v1, mark v1, conntrack v3;
// DNAT/SNAT v2, MASQUERADE v0, MARK v2), built with the revisions and field values iptables 1.8.9
// picks. The libiptc backend puts them inside ipt_entry; the in-process iptables-nft writer sends
// them as nf_tables compat expressions, which is what iptables-nft does for these extensions.
// Also the shared conversions of canonical rule text (ports, addresses, protocols, marks).
#pragma once

#include <netinet/in.h>  // before the linux headers, which then leave its definitions alone
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_conntrack.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cni/fw/fw.h"

namespace cni::fw {

/// Throws cni::Error (999) "unsupported <what>".
[[noreturn]] void Unsupported(const std::string& what);

/// "80" -> 80; throws for anything but a decimal port.
uint16_t ParsePort(const std::string& s);
/// "80", "80:90", ":90", "80:" -> {lo, hi}.
std::pair<uint16_t, uint16_t> ParsePortRange(const std::string& s);
/// {80, 80} -> "80", {80, 90} -> "80:90".
std::string PortRange(uint16_t lo, uint16_t hi);
/// "tcp" -> 6 ... (Rule::proto text: tcp, udp, sctp, icmp, ipv6-icmp), 0 for "all"; throws for
/// any other.
uint16_t ProtoNumber(const std::string& p);
std::string ProtoText(uint16_t n);
/// Canonical "a/len" -> address and mask bytes (4 or 16 of each).
void NetBytes(Family f, const std::string& net, void* addr, void* mask);
std::string NetText(Family f, const void* addr, const void* mask);
/// An -i/-o name into iptables' iface and mask arrays (IFNAMSIZ each).
void IfaceBytes(const std::string& name, char* iface, unsigned char* mask);
std::string AddrTypeText(uint16_t mask);
std::string Hex(uint32_t v);
/// "v[/m]" -> {v, m} (decimal or 0x hex); the mask defaults to all ones; throws cni::Error.
std::pair<uint32_t, uint32_t> MarkPair(const std::string& s);

/// conntrack states in the order iptables-save prints them.
inline constexpr std::pair<const char*, unsigned> kCtStates[] = {
    {"INVALID", XT_CONNTRACK_STATE_INVALID},
    {"NEW", XT_CONNTRACK_STATE_BIT(IP_CT_NEW)},
    {"RELATED", XT_CONNTRACK_STATE_BIT(IP_CT_RELATED)},
    {"ESTABLISHED", XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED)},
    {"UNTRACKED", XT_CONNTRACK_STATE_UNTRACKED},
    {"SNAT", XT_CONNTRACK_STATE_SNAT},
    {"DNAT", XT_CONNTRACK_STATE_DNAT},
};

/// One match or target as xt_entry_match / xt_entry_target bytes (header with name and
/// revision, then the info struct), XT_ALIGN'ed.
struct Blob {
  std::vector<uint8_t> bytes;
};

/// Throws cni::Error for a match (or option value) none of the backends can write.
Blob EncodeMatch(const Rule::Match& m);
/// The rule's target: DNAT/SNAT/MASQUERADE/MARK with their info, anything else (a verdict or a
/// chain) as a standard target with a zero verdict for libiptc to fill in.
Blob EncodeTarget(Family f, const Rule& r);
/// Throws cni::Error (999) unless every writer (libiptc, iptables-restore, the in-process
/// iptables-nft batch) writes `r` so that iptables-save prints exactly r.Canonical(): protocol
/// tcp, udp, sctp, icmp or (IPv6) ipv6-icmp, tcp/udp/sctp matches with a port under their own -p, multiport
/// under -p tcp/udp/sctp, no lone "+" interface, no negated match-everything address, and
/// matches and targets EncodeMatch/EncodeTarget accept.
void CheckWritable(Family f, const Rule& r);

/// The --to-destination / --to-source text of a DNAT/SNAT info struct.
std::string NatText(Family f, const nf_nat_range2& r);

}  // namespace cni::fw
