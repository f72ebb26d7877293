// Network config parsing: the bytes are a plugin's stdin. They go through the dispatcher's
// checks (skel: JSON, name, cniVersion) and then every config loader: host-local's IPAM config,
// bridge's and portmap's netconf, flannel's netconf plus the delegate it builds, weftd's
// flannel network config (the etcd <prefix>/config value), bandwidth's limits with the tbf they
// give, and firewall's config with the chains (rules parsed) it would ensure.
#include <sstream>

#include "agent/subnet/config.h"
#include "cni/json.h"
#include "cni/skel.h"
#include "fuzz_util.h"
#include "plugins/bandwidth/bandwidth.h"
#include "plugins/bridge/config.h"
#include "plugins/firewall/firewall.h"
#include "plugins/flannel/delegate.h"
#include "plugins/host-local/config.h"
#include "plugins/portmap/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::Bytes(data, size));

  // The dispatcher, in-process: STATUS with an empty function only runs the generic checks.
  {
    std::istringstream in(text);
    std::ostringstream out, err;
    cni::Invocation inv{{{"CNI_COMMAND", "STATUS"}, {"CNI_PATH", "/nonexistent"}}, in, out, err};
    int rc = cni::Dispatch(cni::PluginFuncs{}, "fuzz", inv);
    if (rc != 0 && out.str().find("\"code\"") == std::string::npos) fuzz::Fail("error without CNI error JSON");
  }

  cni::Json j;
  // The loaders get what skel lets through: a JSON object.
  if (!fuzz::Accepts([&] { j = cni::ParseJson(text); }) || !j.is_object()) return 0;
  fuzz::Accepts([&] { hostlocal::LoadIpamConfig(j, ""); });
  fuzz::Accepts([&] { bridge::LoadNetConf(j, ""); });
  fuzz::Accepts([&] {
    cni::CallArgs args;
    args.command = "ADD";
    args.container_id = "fuzz";
    args.ifname = "eth0";
    args.config = j;
    args.cni_version = cni::Decoder(j, "NetConf").String("cniVersion").value_or("0.1.0");
    portmap::ParseConfig(args);
  });
  fuzz::Accepts([&] {
    flannel::NetConf n = flannel::LoadNetConf(j);
    flannel::SubnetEnv env = flannel::ParseSubnetEnv(
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
        "subnet.env");
    flannel::MarshalDelegate(flannel::BuildDelegate(n, env));
  });
  fuzz::Accepts([&] { weft::agent::ParseNetworkConfig(text); });
  cni::CallArgs args;
  args.command = "ADD";
  args.container_id = "fuzz";
  args.ifname = "eth0";
  args.config = j;
  fuzz::Accepts([&] {
    args.cni_version = cni::Decoder(j, "NetConf").String("cniVersion").value_or("0.1.0");
    args.name = cni::Decoder(j, "NetConf").String("name").value_or("");
  });
  fuzz::Accepts([&] {
    bandwidth::Config c = bandwidth::ParseConfig(args);
    if (c.bandwidth) {
      bandwidth::TbfFor(c.bandwidth->ingress_rate, c.bandwidth->ingress_burst);
      bandwidth::TbfFor(c.bandwidth->egress_rate, c.bandwidth->egress_burst);
    }
  });
  fuzz::Accepts([&] {
    firewall::Config c = firewall::ParseConfig(args);
    if (!c.prev_result) return;
    std::string bridge = c.prev_result->interfaces.empty() ? "" : c.prev_result->interfaces[0].name;
    for (auto f : {cni::fw::Family::kIPv4, cni::fw::Family::kIPv6}) {
      for (const cni::fw::Chain& ch : firewall::AddChains(c, *c.prev_result, f, bridge)) {
        for (const auto* list : {&ch.rules, &ch.head_rules, &ch.entry_rules}) {
          for (const cni::fw::Args& a : *list) cni::fw::Rule::Parse(f, a).Canonical();
        }
      }
    }
  });
  return 0;
}
