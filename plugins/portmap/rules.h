// The firewall state portmap wants, as data (cni-plugins.md §4.2): iptables chains for the fw
// layer (the shared CNI-HOSTPORT-* chains and the per-container CNI-DN-<hash> chain, with the
// reference's rules, comments and multiport grouping) and the nftables batch of the reference's
// newest `cni_hostport` layout. Pure functions, unit-tested against the reference's dumps.
#pragma once

#include <string>
#include <vector>

#include "cni/fw/fw.h"
#include "cni/fw/nft.h"
#include "config.h"

namespace portmap {

inline constexpr const char* kTopLevelDnatChain = "CNI-HOSTPORT-DNAT";
inline constexpr const char* kSetMarkChain = "CNI-HOSTPORT-SETMARK";
inline constexpr const char* kMasqChain = "CNI-HOSTPORT-MASQ";
inline constexpr const char* kOldTopLevelSnatChain = "CNI-HOSTPORT-SNAT";

/// "CNI-DN-" + 21 hex chars of sha512(name + containerID).
std::string DnatChainName(const std::string& name, const std::string& container_id);

/// The per-container chain with its rules and the multiport jumps from CNI-HOSTPORT-DNAT.
cni::fw::Chain DnatChain(const Config& c, const cni::IPNet& cont);

/// Everything forwardPorts sets up for one family, in the reference's order: the mark chains
/// (snat without externalSetMarkChain), CNI-HOSTPORT-DNAT, then the per-container chain.
std::vector<cni::fw::Chain> SetupChains(const Config& c, const cni::IPNet& cont);

/// What DEL removes for one container: its CNI-DN- chain and the legacy CNI-SN- chain.
std::vector<cni::fw::Chain> TeardownChains(const std::string& name, const std::string& container_id);

// ---- nftables

inline constexpr const char* kNftTable = "cni_hostport";

/// The nft family of an address: "ip" or "ip6".
std::string NftFamily(const cni::IPNet& cont);

/// The skeleton commands (table, chains, the jumps rewritten with this config's conditions).
std::vector<std::string> NftSkeleton(const Config& c, const cni::IPNet& cont);

/// The container's own rules ("add rule ... comment \"<id>\"").
std::vector<std::string> NftContainerRules(const Config& c, const cni::IPNet& cont);

/// How many hostports / masquerading rules CHECK expects for the container.
size_t NftExpectedHostports(const Config& c, const cni::IPNet& cont);
size_t NftExpectedMasq(const Config& c, const cni::IPNet& cont);

}  // namespace portmap
