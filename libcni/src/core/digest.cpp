// SHA-512 (see digest.h). Nettle rather than OpenSSL 3: its one-shot SHA512() goes through
// EVP_Q_digest, whose first call initialises the library and its providers, about 2 ms of CPU in
// every plugin process, more than hashing a few bytes is worth.
#include "cni/digest.h"

#include <nettle/sha2.h>

namespace cni {

std::string Sha512Hex(std::string_view data) {
  sha512_ctx ctx;
  sha512_init(&ctx);
  sha512_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t md[SHA512_DIGEST_SIZE];
  sha512_digest(&ctx, sizeof md, md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA512_DIGEST_SIZE);
  for (const uint8_t b : md) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace cni
