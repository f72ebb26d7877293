// ipMasq for bridge, with the reference's exact objects (cni-plugins.md §2.6.2-2.6.3): per
// attachment an iptables chain "CNI-" + sha512(network + containerID) in table nat, jumped to from
// POSTROUTING per container address, or for the nftables backend one commented rule per address in
// `inet cni_plugins_masquerade` chain masq_checks. Teardown needs only the network name, container
// ID and ifname (not the addresses), so DEL removes the rules even when the container interface or
// namespace is already gone, which the reference does not.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cni/ip.h"
#include "config.h"

namespace bridge {

/// "iptables" or "nftables" for the config's ipMasqBackend ("" = the reference's auto choice).
std::string MasqBackend(const NetConf& n);

void SetupMasq(const NetConf& n, const std::string& cid, const std::string& ifname,
               const std::vector<cni::IPNet>& addrs);
/// Removes the attachment's rules with the config's backend: for iptables in the families given
/// (v4, v6: both when the container's addresses are no longer known), one transaction each.
void TeardownMasq(const NetConf& n, const std::string& cid, const std::string& ifname,
                  bool v4 = true, bool v6 = true);
/// Nullopt when every rule of the attachment is in place, else what is missing.
std::optional<std::string> CheckMasq(const NetConf& n, const std::string& cid,
                                     const std::string& ifname,
                                     const std::vector<cni::IPNet>& addrs);
/// Removes rules of network n.name whose attachment (containerID, ifname) is not in `valid`.
void GcMasq(const NetConf& n, const std::set<std::pair<std::string, std::string>>& valid);

/// The nftables comment of an attachment (hashForInstance + ", net: ..., if: ..., id: ...").
std::string NftMasqComment(const std::string& net, const std::string& ifname, const std::string& cid);
/// The iptables comment `name: "<net>" id: "<cid>"`.
std::string IptMasqComment(const std::string& net, const std::string& cid);

}  // namespace bridge
