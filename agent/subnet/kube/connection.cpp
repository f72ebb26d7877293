// Connection settings for the Kubernetes API (see connection.h). kubeconfig files are YAML
// (yaml-cpp); the -data fields are base64 like every Go []byte in YAML/JSON.
#include "agent/subnet/kube/connection.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "cni/encoding.h"
#include "cni/error.h"

namespace weft::agent::kube {

namespace {

[[noreturn]] void Invalid(const std::string& msg) {
  throw cni::Error(cni::kInvalidNetworkConfig, "invalid kubeconfig: " + msg);
}

std::string ReadFile(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw cni::Error(cni::kInvalidEnvironment, std::string(what) + " " + path + ": cannot read it");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// net.JoinHostPort: an IPv6 literal gets brackets.
std::string JoinHostPort(const std::string& host, const std::string& port) {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
}

std::string NormalizeServer(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (!s.empty() && s.find("://") == std::string::npos) s = "https://" + s;  // clientcmd's default scheme
  return s;
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

// The entry `name` of a named list (clusters, users, contexts); its body is under `field`.
YAML::Node FindNamed(const YAML::Node& root, const char* list, const char* field, const std::string& name) {
  const YAML::Node items = root[list];
  if (items && !items.IsSequence()) Invalid(std::string(list) + " is not a list");
  if (items)
    for (const auto& it : items)
      if (it.IsMap() && it["name"] && it["name"].as<std::string>() == name) {
        YAML::Node body = it[field];
        return body ? body : YAML::Node(YAML::NodeType::Map);
      }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string Str(const YAML::Node& n, const char* key) {
  const YAML::Node v = n[key];
  if (!v || v.IsNull()) return {};
  if (!v.IsScalar()) Invalid(std::string(key) + " is not a string");
  return v.as<std::string>();
}

std::string Data(const YAML::Node& n, const char* key) {
  std::string b64 = Str(n, key);
  if (b64.empty()) return {};
  try {
    return cni::Base64Decode(b64);
  } catch (const cni::Error& e) {
    Invalid(std::string(key) + ": " + e.msg());
  }
}

}  // namespace

Connection InClusterConnection(const std::function<std::string(const char*)>& getenv, const std::string& sa_dir) {
  std::string host = getenv("KUBERNETES_SERVICE_HOST"), port = getenv("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty())
    throw cni::Error(cni::kInvalidEnvironment,
                     "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                     "KUBERNETES_SERVICE_PORT must be defined (or give --kubeconfig-file / --kube-api-url)");
  Connection c;
  c.source = "in-cluster config";
  c.server = "https://" + JoinHostPort(host, port);
  c.token_file = sa_dir + "/token";
  ReadFile(c.token_file, "service-account token");  // rest.InClusterConfig fails without it
  std::ifstream ca(sa_dir + "/ca.crt");
  if (ca) c.ca_file = sa_dir + "/ca.crt";  // like client-go: a missing CA leaves the system roots
  return c;
}

Connection ParseKubeconfig(const std::string& yaml_text, const std::string& dir) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    Invalid(e.what());
  }
  if (!root.IsMap()) Invalid("not a YAML mapping");
  Connection c;
  try {
    std::string ctx_name = Str(root, "current-context");
    if (ctx_name.empty()) Invalid("no current-context");
    YAML::Node ctx = FindNamed(root, "contexts", "context", ctx_name);
    if (!ctx) Invalid("context \"" + ctx_name + "\" not found");
    std::string cluster_name = Str(ctx, "cluster"), user_name = Str(ctx, "user");
    YAML::Node cluster = FindNamed(root, "clusters", "cluster", cluster_name);
    if (!cluster) Invalid("cluster \"" + cluster_name + "\" of context \"" + ctx_name + "\" not found");
    c.server = NormalizeServer(Str(cluster, "server"));
    c.ca_file = Resolve(dir, Str(cluster, "certificate-authority"));
    c.ca_pem = Data(cluster, "certificate-authority-data");
    if (c.ca_pem.size()) c.ca_file.clear();  // the -data form wins, as in client-go
    if (cluster["insecure-skip-tls-verify"]) c.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].as<bool>();
    if (c.insecure_skip_tls_verify && (!c.ca_file.empty() || !c.ca_pem.empty()))
      Invalid("cluster \"" + cluster_name + "\": specifying a root certificates file with the insecure flag is not allowed");
    if (!user_name.empty()) {
      YAML::Node user = FindNamed(root, "users", "user", user_name);
      if (!user) Invalid("user \"" + user_name + "\" of context \"" + ctx_name + "\" not found");
      c.token = Str(user, "token");
      if (c.token.empty()) c.token_file = Resolve(dir, Str(user, "tokenFile"));
      c.cert_file = Resolve(dir, Str(user, "client-certificate"));
      c.cert_pem = Data(user, "client-certificate-data");
      if (c.cert_pem.size()) c.cert_file.clear();
      c.key_file = Resolve(dir, Str(user, "client-key"));
      c.key_pem = Data(user, "client-key-data");
      if (c.key_pem.size()) c.key_file.clear();
      c.username = Str(user, "username");
      c.password = Str(user, "password");
      bool has_cert = c.cert_file.size() || c.cert_pem.size(), has_key = c.key_file.size() || c.key_pem.size();
      if (has_cert != has_key)
        Invalid("user \"" + user_name + "\": client-certificate and client-key must be given together");
      if (c.username.size() && (c.token.size() || c.token_file.size()))
        Invalid("user \"" + user_name + "\": username/password and a token are mutually exclusive");
    }
  } catch (const YAML::Exception& e) {
    Invalid(e.what());
  }
  return c;
}

Connection BuildConnection(const std::string& api_url, const std::string& kubeconfig_path,
                           const std::function<std::string(const char*)>& getenv) {
  if (kubeconfig_path.empty()) {
    if (api_url.empty()) return InClusterConnection(getenv);
    Connection c;
    c.server = NormalizeServer(api_url);
    c.source = "--kube-api-url";
    return c;
  }
  std::string dir = kubeconfig_path.find('/') == std::string::npos
                        ? std::string(".")
                        : kubeconfig_path.substr(0, kubeconfig_path.rfind('/'));
  if (dir.empty()) dir = "/";
  Connection c = ParseKubeconfig(ReadFile(kubeconfig_path, "kubeconfig"), dir);
  c.source = "kubeconfig " + kubeconfig_path;
  if (!api_url.empty()) c.server = NormalizeServer(api_url);
  if (c.server.empty()) Invalid(kubeconfig_path + ": the cluster has no server defined");
  return c;
}

}  // namespace weft::agent::kube
