// subnet.env, as flanneld (or weftd) writes it and the flannel plugin reads it: the plugin's
// parser, the delegate it builds from a complete file, and weftd's reader of its own previous
// subnet (used at start-up to ask for the same subnet again).
#include "agent/subnet/subnet_env.h"
#include "cni/json.h"
#include "fuzz_util.h"
#include "plugins/flannel/delegate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::Bytes(data, size);
  weft::agent::ReadPreviousSubnet(text);
  flannel::SubnetEnv env;
  if (!fuzz::Accepts([&] { env = flannel::ParseSubnetEnv(text, "/run/flannel/subnet.env"); })) return 0;
  if (!env.Missing().empty()) return 0;
  static const cni::Json kConf =
      cni::ParseJson(R"({"cniVersion":"1.0.0","name":"cbr0","type":"flannel","delegate":{"hairpinMode":true}})");
  fuzz::Accepts([&] {
    flannel::NetConf n = flannel::LoadNetConf(kConf);
    cni::Json d = flannel::BuildDelegate(n, env);
    cni::ParseJson(flannel::MarshalDelegate(d));
  });
  return 0;
}
