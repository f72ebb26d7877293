// The etcd lease JSON: another node's value under <prefix>/subnets/<key> (any flanneld or
// weftd version may have written it) and the key itself. A value weftd accepts must marshal
// back into the same attributes.
#include "agent/subnet/lease.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::Bytes(data, size);
  weft::agent::ParseSubnetKey(text);
  std::optional<weft::agent::LeaseAttrs> a;
  fuzz::Accepts([&] { a = weft::agent::ParseLeaseAttrs(text); });
  if (!a) return 0;
  const std::string again = weft::agent::MarshalLeaseAttrs(*a);
  std::optional<weft::agent::LeaseAttrs> b;
  if (!fuzz::Accepts([&] { b = weft::agent::ParseLeaseAttrs(again); }) || !b || !(*a == *b)) {
    fuzz::Fail("lease attrs do not survive marshal/parse: " + again);
  }
  return 0;
}
