// weftd kube mode, where to connect (agent/subnet/kube/connection.h): kubeconfig files with
// each credential kind, the current-context choice, relative paths, the -data forms, the
// --kube-api-url override, the in-cluster config, and the errors for broken files. The RBAC
// hint of API errors (agent/subnet/kube/client.h) is checked here too, from the API server's
// own 403 Status text.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/subnet/kube/client.h"
#include "agent/subnet/kube/connection.h"
#include "cni/encoding.h"
#include "cni/error.h"
#include "support.h"

using namespace weft::agent::kube;
namespace fs = std::filesystem;

namespace {

struct TempDir : weft::test::TempDir {
  TempDir() : weft::test::TempDir("kubeconf") {}
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

using weft::test::ErrorOf;

const char* kTwoContexts = R"(apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://192.0.2.1:6443
- name: test
  cluster:
    server: https://198.18.0.1:6443/
    certificate-authority: pki/ca.crt
users:
- name: admin
  user:
    client-certificate: pki/admin.crt
    client-key: /abs/admin.key
- name: flannel
  user:
    tokenFile: token
contexts:
- name: admin@other
  context: {cluster: other, user: admin}
- name: flannel@test
  context:
    cluster: test
    user: flannel
    namespace: kube-flannel
current-context: flannel@test
)";

}  // namespace

TEST_CASE("agent kube: kubeconfig current-context, token file, relative paths", "[agent][kube]") {
  TempDir d;
  std::string path = d.Write("kubeconfig", kTwoContexts);
  auto noenv = [](const char*) { return std::string(); };
  Connection c = BuildConnection("", path, noenv);
  CHECK(c.server == "https://198.18.0.1:6443");
  CHECK(c.ca_file == (d.path / "pki/ca.crt").string());
  CHECK(c.ca_pem.empty());
  CHECK_FALSE(c.insecure_skip_tls_verify);
  CHECK(c.token.empty());
  CHECK(c.token_file == (d.path / "token").string());
  CHECK(c.cert_file.empty());
  CHECK(c.source == "kubeconfig " + path);

  // --kube-api-url replaces the cluster's server (clientcmd's ClusterDefaults override).
  CHECK(BuildConnection("https://198.18.0.2:443", path, noenv).server == "https://198.18.0.2:443");
  CHECK(BuildConnection("198.18.0.2:443", path, noenv).server == "https://198.18.0.2:443");

  // The other context: client certificate, absolute key path kept.
  std::string text = kTwoContexts;
  text.replace(text.find("current-context: flannel@test"), 29, "current-context: admin@other");
  c = ParseKubeconfig(text, d.path.string());
  CHECK(c.server == "https://192.0.2.1:6443");
  CHECK(c.cert_file == (d.path / "pki/admin.crt").string());
  CHECK(c.key_file == "/abs/admin.key");
  CHECK(c.token_file.empty());
}

TEST_CASE("agent kube: kubeconfig -data forms, token, basic auth, insecure", "[agent][kube]") {
  const std::string ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::string text = "clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n    certificate-authority: /x/ca.crt\n"
                     "    certificate-authority-data: " + cni::Base64Encode(ca) + "\n"
                     "users:\n- name: u\n  user:\n    client-certificate-data: " + cni::Base64Encode("CERT") +
                     "\n    client-key-data: " + cni::Base64Encode("KEY") +
                     "\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n";
  Connection c = ParseKubeconfig(text, "/etc/k");
  CHECK(c.ca_pem == ca);
  CHECK(c.ca_file.empty());  // the -data form wins
  CHECK(c.cert_pem == "CERT");
  CHECK(c.key_pem == "KEY");

  const std::string token_user =
      "clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n    insecure-skip-tls-verify: true\n"
      "users:\n- name: u\n  user:\n    token: abc.def\n    tokenFile: /ignored\n"
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
  c = ParseKubeconfig(token_user, "/etc/k");
  CHECK(c.insecure_skip_tls_verify);
  CHECK(c.token == "abc.def");
  CHECK(c.token_file.empty());

  const std::string basic =
      "clusters:\n- name: c\n  cluster: {server: 'https://h:6443'}\n"
      "users:\n- name: u\n  user: {username: admin, password: 's3cret'}\n"
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
  c = ParseKubeconfig(basic, "/etc/k");
  CHECK(c.username == "admin");
  CHECK(c.password == "s3cret");
}

TEST_CASE("agent kube: broken kubeconfigs say what is wrong", "[agent][kube]") {
  CHECK(ErrorOf([] { ParseKubeconfig("clusters: [\n", "/"); }).rfind("invalid kubeconfig: ", 0) == 0);
  CHECK(ErrorOf([] { ParseKubeconfig("- a\n", "/"); }) == "invalid kubeconfig: not a YAML mapping");
  CHECK(ErrorOf([] { ParseKubeconfig("clusters: []\n", "/"); }) == "invalid kubeconfig: no current-context");
  CHECK(ErrorOf([] { ParseKubeconfig("current-context: x\n", "/"); }) == "invalid kubeconfig: context \"x\" not found");
  CHECK(ErrorOf([] {
          ParseKubeconfig("contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n", "/");
        }) == "invalid kubeconfig: cluster \"c\" of context \"x\" not found");
  CHECK(ErrorOf([] {
          ParseKubeconfig("clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: true, "
                          "certificate-authority: /ca}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                          "/");
        }) == "invalid kubeconfig: cluster \"c\": specifying a root certificates file with the insecure flag is not allowed");
  CHECK(ErrorOf([] {
          ParseKubeconfig("clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: "
                          "{client-certificate: /c}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                          "current-context: x\n",
                          "/");
        }) == "invalid kubeconfig: user \"u\": client-certificate and client-key must be given together");
  CHECK(ErrorOf([] {
          ParseKubeconfig("clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: '%%%'}\n"
                          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                          "/");
        }).rfind("invalid kubeconfig: certificate-authority-data: illegal base64 data", 0) == 0);
  TempDir d;
  std::string noserver = d.Write("k", "clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                                      "current-context: x\n");
  CHECK(ErrorOf([&] { BuildConnection("", noserver, [](const char*) { return std::string(); }); }) ==
        "invalid kubeconfig: " + noserver + ": the cluster has no server defined");
  CHECK(ErrorOf([&] { BuildConnection("", (d.path / "absent").string(), [](const char*) { return std::string(); }); }) ==
        "kubeconfig " + (d.path / "absent").string() + ": cannot read it");
}

TEST_CASE("agent kube: in-cluster config and --kube-api-url alone", "[agent][kube]") {
  TempDir d;
  d.Write("token", "eyJhbGciOi.token\n");
  d.Write("ca.crt", "PEM");
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  auto getenv = [&](const char* k) { return env.count(k) ? env[k] : std::string(); };
  Connection c = InClusterConnection(getenv, d.path.string());
  CHECK(c.server == "https://10.96.0.1:443");
  CHECK(c.token_file == (d.path / "token").string());
  CHECK(c.token.empty());  // re-read from the file: bound tokens rotate
  CHECK(c.ca_file == (d.path / "ca.crt").string());
  CHECK(c.source == "in-cluster config");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  CHECK(InClusterConnection(getenv, d.path.string()).server == "https://[fd00::1]:443");

  fs::remove(d.path / "ca.crt");  // client-go logs and goes on with the system roots
  CHECK(InClusterConnection(getenv, d.path.string()).ca_file.empty());
  fs::remove(d.path / "token");
  CHECK(ErrorOf([&] { InClusterConnection(getenv, d.path.string()); }) ==
        "service-account token " + (d.path / "token").string() + ": cannot read it");
  env.clear();
  CHECK(ErrorOf([&] { BuildConnection("", "", getenv); }) ==
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "defined (or give --kubeconfig-file / --kube-api-url)");

  c = BuildConnection("https://198.18.0.1:6443/", "", getenv);
  CHECK(c.server == "https://198.18.0.1:6443");
  CHECK(c.source == "--kube-api-url");
  CHECK(c.token.empty());
  CHECK(c.token_file.empty());
}

TEST_CASE("agent kube: API errors name the missing RBAC verb and resource", "[agent][kube]") {
  CHECK(RbacFor("GET", "/api/v1/nodes?resourceVersion=0").verb == "list");
  CHECK(RbacFor("GET", "/api/v1/nodes?watch=1&resourceVersion=5").verb == "watch");
  CHECK(RbacFor("GET", "/api/v1/nodes").resource == "nodes");
  CHECK(RbacFor("GET", "/api/v1/nodes/n1").verb == "get");
  CHECK(RbacFor("PATCH", "/api/v1/nodes/n1/status").verb == "patch");
  CHECK(RbacFor("PATCH", "/api/v1/nodes/n1/status").resource == "nodes/status");
  CHECK(RbacFor("GET", "/api/v1/namespaces/kube-flannel/pods/p").resource == "pods");
  CHECK(RbacFor("GET", "/api/v1/namespaces/kube-flannel/pods/p").verb == "get");

  // The Status body kube-apiserver 1.20 sends for a forbidden PATCH.
  const std::string status =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \"n1\" is forbidden: User \"system:serviceaccount:kube-flannel:norbac\" cannot patch resource \"nodes/status\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"name":"n1","kind":"nodes"},"code":403})";
  CHECK(ApiErrorMessage("PATCH", "/api/v1/nodes/n1/status", 403, status) ==
        "kube API: PATCH /api/v1/nodes/n1/status: 403 Forbidden: nodes \"n1\" is forbidden: User "
        "\"system:serviceaccount:kube-flannel:norbac\" cannot patch resource \"nodes/status\" in API group \"\" at "
        "the cluster scope; the service account needs RBAC verb \"patch\" on resource \"nodes/status\" (the "
        "ClusterRole of conf/kube-flannel.yml: pods get; nodes get, list, watch; nodes/status patch)");
  CHECK(ApiErrorMessage("GET", "/api/v1/nodes?watch=1", 401, "Unauthorized\n") ==
        "kube API: GET /api/v1/nodes: 401 Unauthorized: Unauthorized; the API server did not accept the "
        "credentials (expired or unknown token, wrong client certificate)");
  CHECK(ApiErrorMessage("GET", "/api/v1/nodes/x", 500, "") == "kube API: GET /api/v1/nodes/x: 500 Internal Server Error");
}
