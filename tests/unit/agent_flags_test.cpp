// weftd's command line: every flanneld flag weftd takes, its default, its FLANNELD_* variable,
// Go's -flag spelling, precedence of the command line over the environment, and refusals.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>

#include "agent/flags.h"

using namespace weft::agent;

namespace {

struct Parsed {
  std::optional<int> exit_code;
  AgentOptions o;
  std::string out, err;
};

Parsed Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "weftd");
  Parsed p;
  std::ostringstream out, err;
  p.exit_code = ParseFlags(args, p.o, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

// Sets FLANNELD_* variables for one scope and removes them again.
struct ScopedEnv {
  std::vector<std::string> names;
  explicit ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (auto& [k, v] : vars) {
      setenv(k, v, 1);
      names.emplace_back(k);
    }
  }
  ~ScopedEnv() {
    for (auto& k : names) unsetenv(k.c_str());
  }
};

}  // namespace

TEST_CASE("agent flags: flanneld's defaults", "[agent][flags]") {
  Parsed p = Parse({});
  REQUIRE_FALSE(p.exit_code);
  CHECK(p.o.etcd.endpoints == std::vector<std::string>{"http://127.0.0.1:4001", "http://127.0.0.1:2379"});
  CHECK(p.o.prefix == "/coreos.com/network");
  CHECK(p.o.etcd.keyfile.empty());
  CHECK(p.o.etcd.certfile.empty());
  CHECK(p.o.etcd.cafile.empty());
  CHECK(p.o.etcd.username.empty());
  CHECK(p.o.iface.iface.empty());
  CHECK(p.o.iface.iface_regex.empty());
  CHECK(p.o.iface.iface_can_reach.empty());
  CHECK(p.o.iface.public_ip.empty());
  CHECK(p.o.iface.public_ipv6.empty());
  CHECK(p.o.subnet_file == "/run/flannel/subnet.env");
  CHECK(p.o.renew_margin_min == 60);
  CHECK_FALSE(p.o.ip_masq);
  CHECK(p.o.ip_masq_random_fully);
  CHECK(p.o.iptables_resync_s == 5);
  CHECK(p.o.iptables_forward_rules);
  CHECK(p.o.healthz_ip == "0.0.0.0");
  CHECK(p.o.healthz_port == 0);
}

TEST_CASE("agent flags: every flag on the command line, --flag and Go's -flag", "[agent][flags]") {
  for (const std::string dash : {"--", "-"}) {
    Parsed p = Parse({dash + "etcd-endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379",
                      dash + "etcd-prefix", "/weft/net",
                      dash + "etcd-keyfile", "/k.pem", dash + "etcd-certfile", "/c.pem", dash + "etcd-cafile", "/ca.pem",
                      dash + "etcd-username", "flannel", dash + "etcd-password", "s3cret",
                      dash + "iface", "eth1", dash + "iface=10.0.0.9", dash + "iface-regex", "^ens", dash + "iface-regex=^10\\.1\\.",
                      dash + "iface-can-reach", "10.0.0.1", dash + "public-ip", "203.0.113.7",
                      dash + "public-ipv6", "2001:db8::7",
                      dash + "subnet-file", "/tmp/s.env", dash + "subnet-lease-renew-margin", "30",
                      dash + "ip-masq", dash + "ip-masq-fully-random-disable", dash + "iptables-resync", "11",
                      dash + "iptables-forward-rules=false", dash + "healthz-ip", "127.0.0.1", dash + "healthz-port", "8471"});
    INFO(p.err);
    REQUIRE_FALSE(p.exit_code);
    CHECK(p.o.etcd.endpoints == std::vector<std::string>{"https://10.0.0.1:2379", "https://10.0.0.2:2379"});
    CHECK(p.o.prefix == "/weft/net");
    CHECK(p.o.etcd.keyfile == "/k.pem");
    CHECK(p.o.etcd.certfile == "/c.pem");
    CHECK(p.o.etcd.cafile == "/ca.pem");
    CHECK(p.o.etcd.username == "flannel");
    CHECK(p.o.etcd.password == "s3cret");
    CHECK(p.o.iface.iface == std::vector<std::string>{"eth1", "10.0.0.9"});
    CHECK(p.o.iface.iface_regex == std::vector<std::string>{"^ens", "^10\\.1\\."});
    CHECK(p.o.iface.iface_can_reach == "10.0.0.1");
    CHECK(p.o.iface.public_ip == "203.0.113.7");
    CHECK(p.o.iface.public_ipv6 == "2001:db8::7");
    CHECK(p.o.subnet_file == "/tmp/s.env");
    CHECK(p.o.renew_margin_min == 30);
    CHECK(p.o.ip_masq);
    CHECK_FALSE(p.o.ip_masq_random_fully);
    CHECK(p.o.iptables_resync_s == 11);
    CHECK_FALSE(p.o.iptables_forward_rules);
    CHECK(p.o.healthz_ip == "127.0.0.1");
    CHECK(p.o.healthz_port == 8471);
  }
}

TEST_CASE("agent flags: FLANNELD_* environment variables", "[agent][flags]") {
  ScopedEnv env({{"FLANNELD_ETCD_ENDPOINTS", "http://10.1.1.1:2379"},
                 {"FLANNELD_ETCD_PREFIX", "/env/net"},
                 {"FLANNELD_ETCD_KEYFILE", "/ek"},
                 {"FLANNELD_ETCD_CERTFILE", "/ec"},
                 {"FLANNELD_ETCD_CAFILE", "/eca"},
                 {"FLANNELD_ETCD_USERNAME", "u"},
                 {"FLANNELD_ETCD_PASSWORD", "p"},
                 {"FLANNELD_IFACE", "eth2,10.9.9.9"},
                 {"FLANNELD_IFACE_REGEX", "^eth,^wl"},
                 {"FLANNELD_IFACE_CAN_REACH", "10.2.2.2"},
                 {"FLANNELD_PUBLIC_IP", "198.51.100.1"},
                 {"FLANNELD_PUBLIC_IPV6", "2001:db8::1"},
                 {"FLANNELD_SUBNET_FILE", "/env.env"},
                 {"FLANNELD_SUBNET_LEASE_RENEW_MARGIN", "120"},
                 {"FLANNELD_IP_MASQ", "true"},
                 {"FLANNELD_IP_MASQ_FULLY_RANDOM_DISABLE", "true"},
                 {"FLANNELD_IPTABLES_RESYNC", "7"},
                 {"FLANNELD_IPTABLES_FORWARD_RULES", "false"},
                 {"FLANNELD_HEALTHZ_IP", "127.0.0.2"},
                 {"FLANNELD_HEALTHZ_PORT", "9000"}});
  Parsed p = Parse({});
  INFO(p.err);
  REQUIRE_FALSE(p.exit_code);
  CHECK(p.o.etcd.endpoints == std::vector<std::string>{"http://10.1.1.1:2379"});
  CHECK(p.o.prefix == "/env/net");
  CHECK(p.o.etcd.keyfile == "/ek");
  CHECK(p.o.etcd.certfile == "/ec");
  CHECK(p.o.etcd.cafile == "/eca");
  CHECK(p.o.etcd.username == "u");
  CHECK(p.o.etcd.password == "p");
  CHECK(p.o.iface.iface == std::vector<std::string>{"eth2", "10.9.9.9"});
  CHECK(p.o.iface.iface_regex == std::vector<std::string>{"^eth", "^wl"});
  CHECK(p.o.iface.iface_can_reach == "10.2.2.2");
  CHECK(p.o.iface.public_ip == "198.51.100.1");
  CHECK(p.o.iface.public_ipv6 == "2001:db8::1");
  CHECK(p.o.subnet_file == "/env.env");
  CHECK(p.o.renew_margin_min == 120);
  CHECK(p.o.ip_masq);
  CHECK_FALSE(p.o.ip_masq_random_fully);
  CHECK(p.o.iptables_resync_s == 7);
  CHECK_FALSE(p.o.iptables_forward_rules);
  CHECK(p.o.healthz_ip == "127.0.0.2");
  CHECK(p.o.healthz_port == 9000);

  // the command line wins over the environment (flanneld applies env only to unset flags)
  Parsed q = Parse({"--etcd-prefix=/cli", "--iptables-forward-rules=true", "--healthz-port", "1"});
  REQUIRE_FALSE(q.exit_code);
  CHECK(q.o.prefix == "/cli");
  CHECK(q.o.iptables_forward_rules);
  CHECK(q.o.healthz_port == 1);
  CHECK(q.o.iptables_resync_s == 7);
}

TEST_CASE("agent flags: range checks, refusals, help and version", "[agent][flags]") {
  CHECK(Parse({"--subnet-lease-renew-margin", "0"}).exit_code.value_or(0) != 0);
  CHECK(Parse({"--subnet-lease-renew-margin", "1440"}).exit_code.value_or(0) != 0);
  CHECK_FALSE(Parse({"--subnet-lease-renew-margin", "1439"}).exit_code);
  CHECK(Parse({"--iptables-resync", "0"}).exit_code.value_or(0) != 0);
  CHECK(Parse({"--healthz-port", "70000"}).exit_code.value_or(0) != 0);
  CHECK(Parse({"--no-such-flag"}).exit_code.value_or(0) != 0);
  CHECK(Parse({"--etcd-endpoints", ","}).exit_code.value_or(0) != 0);
  CHECK(Parse({"-ip-blackhole-route"}).exit_code == 1);
  CHECK_FALSE(Parse({"-v=2"}).exit_code);  // klog verbosity from flanneld manifests
  CHECK_FALSE(Parse({"--v", "4"}).exit_code);
  // a flag given twice: the last one wins, as with Go's flag package
  Parsed twice = Parse({"--etcd-prefix", "/a", "-etcd-prefix", "/b", "--healthz-port=1", "--healthz-port=2"});
  REQUIRE_FALSE(twice.exit_code);
  CHECK(twice.o.prefix == "/b");
  CHECK(twice.o.healthz_port == 2);
  Parsed help = Parse({"--help"});
  CHECK(help.exit_code == 0);
  for (const char* f : {"--etcd-endpoints", "--etcd-prefix", "--etcd-keyfile", "--etcd-certfile", "--etcd-cafile",
                        "--etcd-username", "--etcd-password", "--iface", "--iface-regex", "--iface-can-reach",
                        "--public-ip", "--subnet-file", "--subnet-lease-renew-margin", "--ip-masq",
                        "--iptables-resync", "--iptables-forward-rules", "--healthz-ip", "--healthz-port"})
    CHECK(help.out.find(f) != std::string::npos);
  Parsed v = Parse({"--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.err == std::string(WEFT_VERSION) + "\n");
}

TEST_CASE("agent flags: kube mode flags, environment and defaults as flanneld's", "[agent][flags][kube]") {
  for (const char* k : {"NODE_NAME", "POD_NAME", "POD_NAMESPACE", "CONT_WHEN_CACHE_NOT_READY"}) unsetenv(k);
  Parsed etcd = Parse({});
  REQUIRE_FALSE(etcd.exit_code);
  CHECK_FALSE(etcd.o.kube_subnet_mgr);
  CHECK(etcd.o.kube.annotation_prefix == "flannel.alpha.coreos.com");
  CHECK(etcd.o.kube.net_config_path == "/etc/kube-flannel/net-conf.json");
  CHECK(etcd.o.kube.set_node_network_unavailable);
  CHECK(etcd.o.kube.api_url.empty());
  CHECK(etcd.o.kube.kubeconfig_file.empty());

  // Without NODE_NAME or POD_NAME + POD_NAMESPACE there is no node to work for: flanneld's text.
  Parsed no_node = Parse({"--kube-subnet-mgr"});
  CHECK(no_node.exit_code == 1);
  CHECK(no_node.err == "Failed to create SubnetManager: env variables POD_NAME and POD_NAMESPACE must be set\n");
  {
    ScopedEnv env({{"POD_NAME", "kube-flannel-ds-x"}});
    CHECK(Parse({"--kube-subnet-mgr"}).exit_code == 1);  // POD_NAMESPACE missing
  }
  {
    ScopedEnv env({{"POD_NAME", "kube-flannel-ds-x"}, {"POD_NAMESPACE", "kube-flannel"}});
    Parsed pod = Parse({"--kube-subnet-mgr"});
    REQUIRE_FALSE(pod.exit_code);
    CHECK(pod.o.kube.pod_name == "kube-flannel-ds-x");
    CHECK(pod.o.kube.pod_namespace == "kube-flannel");
    CHECK(pod.o.kube.node_name.empty());
  }

  ScopedEnv env({{"NODE_NAME", "node-1"}, {"CONT_WHEN_CACHE_NOT_READY", "true"}});
  Parsed p = Parse({"--kube-subnet-mgr", "--kube-api-url", "https://10.0.0.1:6443", "-kubeconfig-file=/etc/k.conf",
                    "--kube-annotation-prefix", "example.com/net", "--net-config-path", "/n.json",
                    "--set-node-network-unavailable=false"});
  REQUIRE_FALSE(p.exit_code);
  CHECK(p.o.kube_subnet_mgr);
  CHECK(p.o.kube.api_url == "https://10.0.0.1:6443");
  CHECK(p.o.kube.kubeconfig_file == "/etc/k.conf");
  CHECK(p.o.kube.annotation_prefix == "example.com/net");
  CHECK(p.o.kube.net_config_path == "/n.json");
  CHECK_FALSE(p.o.kube.set_node_network_unavailable);
  CHECK(p.o.kube.node_name == "node-1");
  CHECK(p.o.kube.cont_when_cache_not_ready);

  // FLANNELD_* forms, the command line winning over them.
  {
    ScopedEnv fl({{"FLANNELD_KUBE_SUBNET_MGR", "true"},
                  {"FLANNELD_KUBE_API_URL", "https://a:6443"},
                  {"FLANNELD_KUBECONFIG_FILE", "/env.conf"},
                  {"FLANNELD_KUBE_ANNOTATION_PREFIX", "env.example.com"},
                  {"FLANNELD_NET_CONFIG_PATH", "/env.json"},
                  {"FLANNELD_SET_NODE_NETWORK_UNAVAILABLE", "false"}});
    Parsed e = Parse({"--kube-api-url", "https://cli:6443"});
    REQUIRE_FALSE(e.exit_code);
    CHECK(e.o.kube_subnet_mgr);
    CHECK(e.o.kube.api_url == "https://cli:6443");
    CHECK(e.o.kube.kubeconfig_file == "/env.conf");
    CHECK(e.o.kube.annotation_prefix == "env.example.com");
    CHECK(e.o.kube.net_config_path == "/env.json");
    CHECK_FALSE(e.o.kube.set_node_network_unavailable);
  }
  // CONT_WHEN_CACHE_NOT_READY counts only as the exact string "true", like flanneld's check.
  {
    ScopedEnv c({{"CONT_WHEN_CACHE_NOT_READY", "1"}});
    CHECK_FALSE(Parse({"--kube-subnet-mgr"}).o.kube.cont_when_cache_not_ready);
  }
  // A prefix flanneld refuses stops weftd with flanneld's message.
  Parsed bad = Parse({"--kube-subnet-mgr", "--kube-annotation-prefix", "org.COM"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "error creating network manager: subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*\n");
  Parsed help = Parse({"--help"});
  for (const char* f : {"--kube-subnet-mgr", "--kube-api-url", "--kubeconfig-file", "--kube-annotation-prefix",
                        "--net-config-path", "--set-node-network-unavailable"})
    CHECK(help.out.find(f) != std::string::npos);
}
