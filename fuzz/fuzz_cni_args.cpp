// CNI_ARGS: the generic parser with the keys the plugins know, then host-local (IP=...) and
// bridge (MAC=...) reading it next to a valid config, as a runtime would pass it.
#include "cni/args.h"
#include "cni/json.h"
#include "fuzz_util.h"
#include "plugins/bridge/config.h"
#include "plugins/host-local/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s = fuzz::Bytes(data, size);
  // What was accepted, written back as "K=V;K=V", parses to the same pairs.
  const std::vector<std::string_view> known = {"IP", "MAC", "K8S_POD_NAME", "K8S_POD_NAMESPACE"};
  cni::CniArgs a;
  if (fuzz::Accepts([&] { a = cni::CniArgs::Parse(s, known); })) {
    std::string again;
    for (const auto& [k, v] : a.pairs()) again += (again.empty() ? "" : ";") + k + "=" + v;
    cni::CniArgs b;
    if (!fuzz::Accepts([&] { b = cni::CniArgs::Parse(again, known); }) || b.pairs() != a.pairs()) {
      fuzz::Fail("CNI_ARGS do not survive a round trip: " + again);
    }
  }
  static const cni::Json kHostLocal = cni::ParseJson(
      R"({"cniVersion":"1.0.0","name":"n","type":"bridge","ipam":{"type":"host-local",
          "ranges":[[{"subnet":"10.1.0.0/16"}],[{"subnet":"fd00::/64"}]]}})");
  static const cni::Json kBridge = cni::ParseJson(
      R"({"cniVersion":"1.0.0","name":"n","type":"bridge","bridge":"br0","ipam":{}})");
  fuzz::Accepts([&] { hostlocal::LoadIpamConfig(kHostLocal, s); });
  fuzz::Accepts([&] { bridge::LoadNetConf(kBridge, s); });
  return 0;
}
