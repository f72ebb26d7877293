// The kube manager's environment (see options.h).
#include "agent/subnet/kube/options.h"

namespace weft::agent::kube {

void ReadKubeEnv(KubeOptions& o, const std::function<std::string(const char*)>& getenv) {
  o.node_name = getenv("NODE_NAME");
  o.pod_name = getenv("POD_NAME");
  o.pod_namespace = getenv("POD_NAMESPACE");
  o.cont_when_cache_not_ready = getenv("CONT_WHEN_CACHE_NOT_READY") == "true";
}

}  // namespace weft::agent::kube
