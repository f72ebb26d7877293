// SHA-512 as lowercase hex: the digest behind the reference's chain names (FormatChainName) and
// upstream cnitool's container IDs. From Nettle's static archive, so only the hash is linked and
// no library initialises at start-up.
#pragma once

#include <string>
#include <string_view>

namespace cni {

/// hex(SHA-512(data)), 128 lowercase hex digits.
std::string Sha512Hex(std::string_view data);

}  // namespace cni
