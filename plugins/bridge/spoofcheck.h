// macspoofchk: the reference's nftables bridge-family rules (cni-plugins.md §2.6.4) that drop
// frames from the host veth whose source MAC is not the container's. refID is
// "<containerID>-<ifname>"; the chains are cni-br-iface-<refID>[-mac] in table `bridge nat`, every
// rule is commented "macspoofchk-<refID>". Setup is one nft transaction (the reference uses two).
#pragma once

#include <string>

namespace bridge {

void SetupSpoofCheck(const std::string& host_veth, const std::string& mac, const std::string& ref_id);
/// Removes the PREROUTING jump and both chains; the table and base chain stay (as the reference).
void TeardownSpoofCheck(const std::string& ref_id);

}  // namespace bridge
