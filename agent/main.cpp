// weftd: flanneld-compatible node agent. Flags are flanneld's (etcd subnet manager only); each
// can also come from FLANNELD_<FLAG> in the environment when not given on the command line, and
// Go's single-dash spelling (-etcd-endpoints) is accepted too. SIGTERM/SIGINT stop the agent and
// leave every kernel entry, rule and subnet.env in place, so pod traffic survives a restart.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "agent/agent.h"
#include "cni/error.h"
#include "agent/healthz.h"

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t c = s.find(',', start);
    std::string part = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
    if (!part.empty()) out.push_back(part);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace weft::agent;
  // Go's flag package takes -flag as well as --flag.
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i)
    if (args[i].size() > 2 && args[i][0] == '-' && args[i][1] != '-' && args[i] != "-v") args[i] = "-" + args[i];
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());

  AgentOptions o;
  std::string endpoints = "http://127.0.0.1:4001,http://127.0.0.1:2379";
  bool kube = false, version = false, blackhole = false, fully_random_disable = false;
  CLI::App app{"weftd: flannel-compatible VXLAN/host-gw node agent (etcd v3 subnet manager)"};
  auto env = [](const char* name) { return std::string("FLANNELD_") + name; };
  app.add_option("--etcd-endpoints", endpoints, "a comma-delimited list of etcd endpoints")->envname(env("ETCD_ENDPOINTS"))->capture_default_str();
  app.add_option("--etcd-prefix", o.prefix, "etcd prefix")->envname(env("ETCD_PREFIX"))->capture_default_str();
  app.add_option("--etcd-keyfile", o.etcd.keyfile, "SSL key file used to secure etcd communication")->envname(env("ETCD_KEYFILE"));
  app.add_option("--etcd-certfile", o.etcd.certfile, "SSL certification file used to secure etcd communication")->envname(env("ETCD_CERTFILE"));
  app.add_option("--etcd-cafile", o.etcd.cafile, "SSL Certificate Authority file used to secure etcd communication")->envname(env("ETCD_CAFILE"));
  app.add_option("--etcd-username", o.etcd.username, "username for BasicAuth to etcd")->envname(env("ETCD_USERNAME"));
  app.add_option("--etcd-password", o.etcd.password, "password for BasicAuth to etcd")->envname(env("ETCD_PASSWORD"));
  app.add_option("--iface", o.iface.iface, "interface to use (IP or name) for inter-host communication; repeatable")->envname(env("IFACE"))->delimiter(',');
  app.add_option("--iface-regex", o.iface.iface_regex, "regex of the IP or name of the interface to use; repeatable")->envname(env("IFACE_REGEX"))->delimiter(',');
  app.add_option("--iface-can-reach", o.iface.iface_can_reach, "use the interface that can reach this IP")->envname(env("IFACE_CAN_REACH"));
  app.add_option("--public-ip", o.iface.public_ip, "IP accessible by other nodes for inter-host communication")->envname(env("PUBLIC_IP"));
  app.add_option("--subnet-file", o.subnet_file, "filename where env variables (subnet, MTU, ...) will be written to")->envname(env("SUBNET_FILE"))->capture_default_str();
  app.add_option("--subnet-lease-renew-margin", o.renew_margin_min, "subnet lease renewal margin, in minutes")->envname(env("SUBNET_LEASE_RENEW_MARGIN"))->capture_default_str()->check(CLI::Range(1, 1439));
  app.add_flag("--ip-masq", o.ip_masq, "setup IP masquerade rule for traffic destined outside of overlay network")->envname(env("IP_MASQ"));
  app.add_flag("--ip-masq-fully-random-disable", fully_random_disable, "do not use --random-fully in the MASQUERADE rules")->envname(env("IP_MASQ_FULLY_RANDOM_DISABLE"));
  app.add_option("--iptables-resync", o.iptables_resync_s, "resync period for iptables rules, in seconds")->envname(env("IPTABLES_RESYNC"))->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--iptables-forward-rules", o.iptables_forward_rules, "add default accept rules to FORWARD chain in iptables")->envname(env("IPTABLES_FORWARD_RULES"))->default_val(true);
  app.add_option("--healthz-ip", o.healthz_ip, "the IP address for healthz server to listen")->envname(env("HEALTHZ_IP"))->capture_default_str();
  app.add_option("--healthz-port", o.healthz_port, "the port for healthz server to listen (0 to disable)")->envname(env("HEALTHZ_PORT"))->capture_default_str();
  app.add_flag("--kube-subnet-mgr", kube, "contact the Kubernetes API for subnet assignment (not supported by weftd)")->envname(env("KUBE_SUBNET_MGR"));
  app.add_flag("--ip-blackhole-route", blackhole, "add a blackhole route for the own subnet (not supported by weftd)")->envname(env("IP_BLACKHOLE_ROUTE"));
  app.add_flag("--version", version, "print version and exit");
  try {
    app.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::cerr << WEFT_VERSION << '\n';
    return 0;
  }
  if (kube || blackhole) {
    Log('E', std::string(kube ? "--kube-subnet-mgr" : "--ip-blackhole-route") + " is not supported by weftd");
    return 1;
  }
  o.etcd.endpoints = SplitComma(endpoints);
  o.ip_masq_random_fully = !fully_random_disable;
  if (o.etcd.certfile.empty() || o.etcd.keyfile.empty()) Log('W', "connecting to etcd with http. This is insecure");

  // Signals go to a dedicated thread; every other thread inherits the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    Agent agent(o, MakeNetlinkDataplane());
    std::unique_ptr<HealthServer> health;
    if (o.healthz_port > 0)
      health = std::make_unique<HealthServer>(o.healthz_ip, o.healthz_port, [&] { return agent.NotReadyReason(); });
    std::thread sig([&] {
      int s = 0;
      sigwait(&set, &s);
      Log('I', std::string("received ") + (s == SIGTERM ? "SIGTERM" : "SIGINT") + ", exiting (kernel state is kept)");
      agent.Stop();
    });
    sig.detach();
    agent.Run();
  } catch (const cni::Error& e) {
    Log('E', e.msg());
    return 1;
  } catch (const std::exception& e) {
    Log('E', e.what());
    return 1;
  }
  return 0;
}
