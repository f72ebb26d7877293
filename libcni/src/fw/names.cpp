// Chain names and quoting shared with the reference (see names.h); the hash is cni::Sha512Hex.
#include "cni/fw/names.h"

#include "cni/digest.h"
#include "cni/error.h"

namespace cni::fw {

std::string FormatChainName(std::string_view name, std::string_view id, std::string_view prefix) {
  constexpr size_t kMaxChainLength = 28;
  std::string full = "CNI-" + std::string(prefix);
  if (full.size() >= kMaxChainLength) throw Error(kInternal, "invalid length");
  std::string input(name);
  input += id;
  return (full + Sha512Hex(input)).substr(0, kMaxChainLength);
}

}  // namespace cni::fw
