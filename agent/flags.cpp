// weftd flags (see flags.h). Defaults are flanneld v0.28's; the unsupported flanneld mode
// --ip-blackhole-route is refused rather than silently ignored. Kube mode also reads flanneld's
// environment variables (NODE_NAME, POD_NAME + POD_NAMESPACE, CONT_WHEN_CACHE_NOT_READY) and
// checks --kube-annotation-prefix here, so a bad value stops weftd before it contacts anything.
#include "agent/flags.h"

#include <CLI/CLI.hpp>

#include <cstdlib>

#include "agent/subnet/kube/node.h"
#include "cni/error.h"

namespace weft::agent {

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

std::string Env(const char* name) { return std::string("FLANNELD_") + name; }

}  // namespace

std::optional<int> ParseFlags(std::vector<std::string> args, AgentOptions& o, std::ostream& out_stream,
                              std::ostream& err_stream) {
  // Go's flag package takes -flag as well as --flag (-v=2 becomes --v=2; a lone -v stays short).
  for (size_t i = 1; i < args.size(); ++i)
    if (args[i].size() > 2 && args[i][0] == '-' && args[i][1] != '-') args[i] = "-" + args[i];
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());

  std::string endpoints = "http://127.0.0.1:4001,http://127.0.0.1:2379";
  bool version = false, blackhole = false, fully_random_disable = false;
  int verbosity = 0;
  CLI::App app{"weftd: flannel-compatible VXLAN/host-gw node agent (etcd v3 subnet manager)", "weftd"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // Go: the last one wins
  app.add_option("--etcd-endpoints", endpoints, "a comma-delimited list of etcd endpoints")->envname(Env("ETCD_ENDPOINTS"))->capture_default_str();
  app.add_option("--etcd-prefix", o.prefix, "etcd prefix")->envname(Env("ETCD_PREFIX"))->capture_default_str();
  app.add_option("--etcd-keyfile", o.etcd.keyfile, "SSL key file used to secure etcd communication")->envname(Env("ETCD_KEYFILE"));
  app.add_option("--etcd-certfile", o.etcd.certfile, "SSL certification file used to secure etcd communication")->envname(Env("ETCD_CERTFILE"));
  app.add_option("--etcd-cafile", o.etcd.cafile, "SSL Certificate Authority file used to secure etcd communication")->envname(Env("ETCD_CAFILE"));
  app.add_option("--etcd-username", o.etcd.username, "username for BasicAuth to etcd")->envname(Env("ETCD_USERNAME"));
  app.add_option("--etcd-password", o.etcd.password, "password for BasicAuth to etcd")->envname(Env("ETCD_PASSWORD"));
  app.add_option("--iface", o.iface.iface, "interface to use (IP or name) for inter-host communication; repeatable")->envname(Env("IFACE"))->delimiter(',');
  app.add_option("--iface-regex", o.iface.iface_regex, "regex of the IP or name of the interface to use; repeatable")->envname(Env("IFACE_REGEX"))->delimiter(',');
  app.add_option("--iface-can-reach", o.iface.iface_can_reach, "use the interface that can reach this IP")->envname(Env("IFACE_CAN_REACH"));
  app.add_option("--public-ip", o.iface.public_ip, "IP accessible by other nodes for inter-host communication")->envname(Env("PUBLIC_IP"));
  app.add_option("--public-ipv6", o.iface.public_ipv6, "IPv6 IP accessible by other nodes for inter-host communication")->envname(Env("PUBLIC_IPV6"));
  app.add_option("--subnet-file", o.subnet_file, "filename where env variables (subnet, MTU, ...) will be written to")->envname(Env("SUBNET_FILE"))->capture_default_str();
  app.add_option("--subnet-lease-renew-margin", o.renew_margin_min, "subnet lease renewal margin, in minutes")->envname(Env("SUBNET_LEASE_RENEW_MARGIN"))->capture_default_str()->check(CLI::Range(1, 1439));
  app.add_flag("--ip-masq", o.ip_masq, "setup IP masquerade rule for traffic destined outside of overlay network")->envname(Env("IP_MASQ"));
  app.add_flag("--ip-masq-fully-random-disable", fully_random_disable, "do not use --random-fully in the MASQUERADE rules")->envname(Env("IP_MASQ_FULLY_RANDOM_DISABLE"));
  app.add_option("--iptables-resync", o.iptables_resync_s, "resync period for iptables rules and the kernel entries, in seconds")->envname(Env("IPTABLES_RESYNC"))->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--iptables-forward-rules", o.iptables_forward_rules, "add default accept rules to FORWARD chain in iptables")->envname(Env("IPTABLES_FORWARD_RULES"))->capture_default_str();
  app.add_option("--wireguard-go", o.wireguard_go, "wireguard-go binary for the wireguard backend when the kernel has no WireGuard (default: wireguard-go on $PATH)")->envname(Env("WIREGUARD_GO"));
  app.add_option("--healthz-ip", o.healthz_ip, "the IP address for healthz server to listen")->envname(Env("HEALTHZ_IP"))->capture_default_str();
  app.add_option("--healthz-port", o.healthz_port, "the port for healthz server to listen (0 to disable)")->envname(Env("HEALTHZ_PORT"))->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_flag("--kube-subnet-mgr", o.kube_subnet_mgr, "contact the Kubernetes API for subnet assignment instead of etcd")->envname(Env("KUBE_SUBNET_MGR"));
  app.add_option("--kube-api-url", o.kube.api_url, "Kubernetes API server URL (not needed in a pod)")->envname(Env("KUBE_API_URL"));
  app.add_option("--kubeconfig-file", o.kube.kubeconfig_file, "kubeconfig file location (not needed in a pod)")->envname(Env("KUBECONFIG_FILE"));
  app.add_option("--kube-annotation-prefix", o.kube.annotation_prefix, "Kubernetes annotation prefix; may contain one '/', else one is appended")->envname(Env("KUBE_ANNOTATION_PREFIX"))->capture_default_str();
  app.add_option("--net-config-path", o.kube.net_config_path, "path to the network configuration file (kube mode)")->envname(Env("NET_CONFIG_PATH"))->capture_default_str();
  app.add_flag("--set-node-network-unavailable", o.kube.set_node_network_unavailable, "set NodeNetworkUnavailable to False once ready (kube mode)")->envname(Env("SET_NODE_NETWORK_UNAVAILABLE"))->capture_default_str();
  app.add_flag("--ip-blackhole-route", blackhole, "add a blackhole route for the own subnet (not supported by weftd)")->envname(Env("IP_BLACKHOLE_ROUTE"));
  app.add_option("-v,--v", verbosity, "log verbosity (klog's flag; accepted, weftd logs one level)");
  app.add_flag("--version", version, "print version and exit");
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out_stream, err_stream);
  }
  if (version) {
    err_stream << WEFT_VERSION << '\n';  // flanneld prints its version to stderr
    return 0;
  }
  if (blackhole) {
    err_stream << "--ip-blackhole-route is not supported by weftd\n";
    return 1;
  }
  if (o.kube_subnet_mgr) {
    kube::ReadKubeEnv(o.kube, [](const char* k) {
      const char* v = std::getenv(k);
      return std::string(v ? v : "");
    });
    try {
      kube::Annotations::FromPrefix(o.kube.annotation_prefix);
    } catch (const cni::Error& e) {
      err_stream << "error creating network manager: " << e.msg() << '\n';
      return 1;
    }
    if (o.kube.node_name.empty() && (o.kube.pod_name.empty() || o.kube.pod_namespace.empty())) {
      err_stream << "Failed to create SubnetManager: env variables POD_NAME and POD_NAMESPACE must be set\n";
      return 1;
    }
  }
  o.etcd.endpoints = SplitComma(endpoints);
  if (o.etcd.endpoints.empty()) {
    err_stream << "--etcd-endpoints: no endpoint given\n";
    return 1;
  }
  o.ip_masq_random_fully = !fully_random_disable;
  return std::nullopt;
}

}  // namespace weft::agent
