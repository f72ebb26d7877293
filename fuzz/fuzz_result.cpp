// Result conversion: the first byte picks the version the bytes claim to be (a prevResult in a
// config of that version), the rest is the result JSON. A parsed result must print in every
// supported version or fail with a cni::Error, and must survive a round trip through the
// newest version unchanged.
#include "cni/json.h"
#include "cni/result.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& versions = cni::SupportedVersions();
  const std::string version = versions[data[0] % versions.size()];
  cni::Json j;
  if (!fuzz::Accepts([&] { j = cni::ParseJson(fuzz::Bytes(data + 1, size - 1)); })) return 0;
  cni::Result r;
  if (!fuzz::Accepts([&] { r = cni::Result::FromJson(j, version); })) return 0;
  for (const std::string& v : versions) {
    fuzz::Accepts([&] { r.Print(v); });
  }
  // Round trip through 1.1.0, the internal model's own version: nothing may be lost or invented.
  // An address or route without its CIDR ("ip"/"address"/"dst" missing) is accepted and printed
  // as Go prints a zero net.IPNet ("<nil>"), as the reference does; such output cannot be parsed
  // back by either implementation.
  for (const cni::IPConfig& ip : r.ips) {
    if (ip.address.String() == "<nil>") return 0;
  }
  for (const cni::Route& rt : r.routes) {
    if (rt.dst.String() == "<nil>") return 0;
  }
  cni::Json newest;
  if (!fuzz::Accepts([&] { newest = r.ToJson("1.1.0"); })) fuzz::Fail("1.1.0 cannot express a parsed result");
  cni::Result back;
  if (!fuzz::Accepts([&] { back = cni::Result::FromJson(newest, "1.1.0"); })) {
    fuzz::Fail("1.1.0 output does not parse: " + newest.dump());
  }
  back.cni_version = r.cni_version;
  if (!(back == r)) fuzz::Fail("round trip changed the result: " + newest.dump());
  return 0;
}
