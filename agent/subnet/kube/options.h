// The kube subnet manager's settings: flanneld's kube flags (--kube-api-url, --kubeconfig-file,
// --kube-annotation-prefix, --net-config-path, --set-node-network-unavailable) and the
// environment variables its kube manager reads (NODE_NAME, POD_NAME + POD_NAMESPACE,
// CONT_WHEN_CACHE_NOT_READY). A plain value type, so the flag parser fills it without
// depending on the manager.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace weft::agent::kube {

struct KubeOptions {
  std::string api_url;          // --kube-api-url
  std::string kubeconfig_file;  // --kubeconfig-file
  std::string annotation_prefix = "flannel.alpha.coreos.com";
  std::string net_config_path = "/etc/kube-flannel/net-conf.json";
  bool set_node_network_unavailable = true;
  // From the environment (flanneld reads them with os.Getenv).
  std::string node_name;                    // NODE_NAME
  std::string pod_name, pod_namespace;      // POD_NAME, POD_NAMESPACE: the node through pods/get
  bool cont_when_cache_not_ready = false;   // CONT_WHEN_CACHE_NOT_READY=true
  int watch_timeout_s = 300;                // timeoutSeconds of each watch request
  std::chrono::seconds sync_timeout{600};   // flanneld's nodeControllerSyncTimeout
};

/// The manager's part of the process environment, as flanneld reads it (os.Getenv).
void ReadKubeEnv(KubeOptions& o, const std::function<std::string(const char*)>& getenv);

}  // namespace weft::agent::kube
