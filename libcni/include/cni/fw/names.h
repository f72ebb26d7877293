// Names and comments the reference derives for its firewall objects, byte for byte: the
// SHA-512-based chain names of pkg/utils (FormatChainName: "CNI-" + 24 hex chars; portmap's
// "CNI-DN-" + 21 hex chars), the nftables instance hashes of ipmasq, and Go's %q quoting used in
// the ipMasq comment.
#pragma once

#include <string>
#include <string_view>

#include "cni/encoding.h"

namespace cni::fw {

/// utils.MustFormatChainNameWithPrefix: "CNI-" + prefix + hex(sha512(name + id)), cut to 28
/// characters. FormatChainName("test", "1234") == "CNI-2bbe0c48b91a7d1b8a6753a8".
std::string FormatChainName(std::string_view name, std::string_view id, std::string_view prefix = "");

using cni::GoQuote;  // cni/encoding.h

}  // namespace cni::fw
