// Data-plane helpers shared by every implementation (see dataplane.h).
#include "agent/dataplane.h"

namespace weft::agent {

Mac StableMac(std::string_view seed) {
  // FNV-1a 64: stable across builds and architectures (std::hash is not).
  uint64_t h = 1469598103934665603ull;
  for (char ch : seed) {
    h ^= static_cast<uint8_t>(ch);
    h *= 1099511628211ull;
  }
  Mac m{};
  for (size_t i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(h >> (8 * i));
  m[0] = static_cast<uint8_t>((m[0] & 0xfe) | 0x02);
  return m;
}

}  // namespace weft::agent
