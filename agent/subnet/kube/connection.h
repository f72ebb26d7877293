// Where weftd's Kubernetes client connects and how it authenticates, built the way flanneld's
// clientcmd.BuildConfigFromFlags(--kube-api-url, --kubeconfig-file) builds it:
//   - neither given: the in-cluster config (KUBERNETES_SERVICE_HOST/_PORT, the service-account
//     token and ca.crt under /var/run/secrets/kubernetes.io/serviceaccount/);
//   - a kubeconfig file: its current-context's cluster and user (server, certificate-authority
//     (-data), insecure-skip-tls-verify; token, tokenFile, client-certificate(-data)/client-key
//     (-data), username/password), relative paths resolved against the file's directory, and
//     --kube-api-url, when also given, replacing the cluster's server;
//   - --kube-api-url alone: that server, no credentials.
// TLS is verified (against the CA when one is given, else the system roots) unless the
// kubeconfig says insecure-skip-tls-verify. A token file is kept as a path, not as a token:
// bound service-account tokens rotate, and the client re-reads the file when it changes.
#pragma once

#include <functional>
#include <string>

namespace weft::agent::kube {

struct Connection {
  std::string server;  // "https://10.96.0.1:443", no trailing '/'
  std::string ca_file, ca_pem;  // a CA bundle by path or as PEM bytes (the -data forms)
  bool insecure_skip_tls_verify = false;
  std::string token;       // a fixed bearer token
  std::string token_file;  // a bearer token re-read when the file changes
  std::string cert_file, cert_pem, key_file, key_pem;  // TLS client authentication
  std::string username, password;                      // basic authentication
  std::string source;  // "in-cluster config", "kubeconfig /path", "--kube-api-url": for messages
};

constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

/// rest.InClusterConfig: `getenv` looks up KUBERNETES_SERVICE_HOST/_PORT, `sa_dir` holds token
/// and ca.crt. Throws cni::Error(kInvalidEnvironment) when not running in a cluster.
Connection InClusterConnection(const std::function<std::string(const char*)>& getenv,
                               const std::string& sa_dir = kServiceAccountDir);

/// Parses a kubeconfig document; `dir` resolves relative file paths. Throws
/// cni::Error(kInvalidNetworkConfig) naming what is missing or malformed.
Connection ParseKubeconfig(const std::string& yaml_text, const std::string& dir);

/// clientcmd.BuildConfigFromFlags(api_url, kubeconfig_path) (see the file comment).
Connection BuildConnection(const std::string& api_url, const std::string& kubeconfig_path,
                           const std::function<std::string(const char*)>& getenv);

}  // namespace weft::agent::kube
