// weftd's etcd v3 gateway client against a real, throw-away etcd (Debian's etcd-server) on
// 127.0.0.1 with free ports and a temporary data dir; the test is skipped with a warning when
// etcd is not installed.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/subnet/etcd/client.h"
#include "cni/error.h"
#include "support.h"

extern char** environ;
using namespace weft::agent;

namespace {

using weft::test::FreePort;

struct Etcd {
  pid_t pid = -1;
  std::string dir, url;
  bool ok = false;
  // `extra` etcd flags; `probe` carries the TLS files the readiness probe needs.
  explicit Etcd(std::vector<std::string> extra = {}, EtcdOptions probe = {}, std::string scheme = "http",
                std::string in_dir = "") {
    if (access("/usr/bin/etcd", X_OK) != 0) return;
    if (in_dir.empty()) {
      char tmpl[] = "/tmp/weft-etcd-XXXXXX";
      in_dir = mkdtemp(tmpl);
    }
    dir = in_dir;
    url = scheme + "://127.0.0.1:" + std::to_string(FreePort());
    std::string peer = "http://127.0.0.1:" + std::to_string(FreePort());
    std::vector<std::string> args = {"etcd", "--name", "t", "--data-dir", dir + "/data", "--listen-client-urls", url,
                                     "--advertise-client-urls", url, "--listen-peer-urls", peer,
                                     "--initial-advertise-peer-urls", peer, "--initial-cluster", "t=" + peer,
                                     "--logger", "zap", "--log-outputs", dir + "/log"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, "/usr/bin/etcd", nullptr, nullptr, argv.data(), environ) != 0) return;
    probe.endpoints = {url};
    EtcdClient c(probe);
    for (int i = 0; i < 200 && !ok; ++i) {
      try {
        c.GetPrefix("/");
        ok = true;
      } catch (const cni::Error&) {
        usleep(25000);
      }
    }
  }
  ~Etcd() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// Waits until a watch on `prefix` is established, then stops it.
bool WatchStarts(EtcdClient& c, const std::string& prefix) {
  std::atomic<bool> stop{false}, created{false};
  std::thread w([&] {
    c.Watch(prefix, 1, [](const std::vector<WatchEvent>&, int64_t) {}, stop, [&] { created = true; });
  });
  for (int i = 0; i < 200 && !created; ++i) usleep(10000);
  stop = true;
  w.join();
  return created;
}

}  // namespace

TEST_CASE("agent etcd: base64 and prefix ranges", "[agent][etcd]") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Decode("L2NvcmVvcy5jb20vbmV0d29yay9jb25maWc=") == "/coreos.com/network/config");
  std::string bin("\x00\xff\x10", 3);
  CHECK(Base64Decode(Base64Encode(bin)) == bin);
  CHECK(PrefixEnd("/a/") == "/a0");
  CHECK(PrefixEnd(std::string("a\xff", 2)) == "b");
}

TEST_CASE("agent etcd: kv, txn, leases and watch against a real etcd", "[agent][etcd]") {
  Etcd etcd;
  if (etcd.pid < 0) {
    WARN("skipped: etcd is not installed");
    return;
  }
  REQUIRE(etcd.ok);
  EtcdOptions o;
  o.endpoints = {"http://127.0.0.1:1", etcd.url};  // the first endpoint is dead: fail over
  EtcdClient c(o);

  CHECK_FALSE(c.Get("/n/config"));
  c.Put("/n/config", R"({"Network":"10.1.0.0/16"})");
  REQUIRE(c.Get("/n/config"));
  CHECK(c.Get("/n/config")->value == R"({"Network":"10.1.0.0/16"})");

  int64_t lease = c.GrantLease(60);
  CHECK(lease != 0);
  auto ttl = c.LeaseTimeToLive(lease);
  REQUIRE(ttl);
  CHECK(*ttl > 50);
  CHECK(c.CreateIfAbsent("/n/subnets/10.1.5.0-24", "a", lease));
  CHECK_FALSE(c.CreateIfAbsent("/n/subnets/10.1.5.0-24", "b", lease));  // a lost race
  CHECK(c.Get("/n/subnets/10.1.5.0-24")->value == "a");
  CHECK(c.Get("/n/subnets/10.1.5.0-24")->lease == lease);
  c.Put("/n/subnets/10.1.6.0-24", "c");
  RangeResult r = c.GetPrefix("/n/subnets/");
  CHECK(r.kvs.size() == 2);
  CHECK(r.revision > 0);

  // revoking the etcd lease deletes the key, and a watcher sees a DELETE
  std::atomic<bool> stop{false};
  std::atomic<bool> created{false};
  std::vector<WatchEvent> seen;
  std::mutex mu;
  std::thread w([&] {
    c.Watch("/n/subnets/", r.revision + 1,
            [&](const std::vector<WatchEvent>& evs, int64_t) {
              std::lock_guard<std::mutex> l(mu);
              seen.insert(seen.end(), evs.begin(), evs.end());
            },
            stop, [&] { created = true; });
  });
  for (int i = 0; i < 200 && !created; ++i) usleep(10000);
  REQUIRE(created);
  c.Put("/n/subnets/10.1.7.0-24", "d");
  c.RevokeLease(lease);
  CHECK_FALSE(c.Get("/n/subnets/10.1.5.0-24"));
  CHECK_FALSE(c.LeaseTimeToLive(lease));
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (seen.size() >= 2) break;
    }
    usleep(10000);
  }
  stop = true;
  w.join();
  REQUIRE(seen.size() == 2);
  CHECK_FALSE(seen[0].is_delete);
  CHECK(seen[0].kv.key == "/n/subnets/10.1.7.0-24");
  CHECK(seen[0].kv.value == "d");
  CHECK(seen[1].is_delete);
  CHECK(seen[1].kv.key == "/n/subnets/10.1.5.0-24");

  // a watch from a compacted revision reports it (the agent then lists again)
  int64_t rev = c.GetPrefix("/n/").revision;
  c.Call("/v3/kv/compaction", {{"revision", std::to_string(rev)}});
  std::atomic<bool> stop2{false};
  auto end = c.Watch("/n/subnets/", 2, [](const std::vector<WatchEvent>&, int64_t) {}, stop2);
  CHECK(end == EtcdClient::WatchEnd::kCompacted);
}

TEST_CASE("agent etcd: username/password auth, token renewed after etcd expired it", "[agent][etcd]") {
  Etcd etcd({"--auth-token-ttl", "1"});
  if (etcd.pid < 0) {
    WARN("skipped: etcd is not installed");
    return;
  }
  REQUIRE(etcd.ok);
  EtcdOptions admin_opts;
  admin_opts.endpoints = {etcd.url};
  EtcdClient admin(admin_opts);
  admin.Call("/v3/auth/role/add", {{"name", "root"}});
  admin.Call("/v3/auth/user/add", {{"name", "root"}, {"password", "rootpw"}});
  admin.Call("/v3/auth/user/grant", {{"user", "root"}, {"role", "root"}});
  admin.Call("/v3/auth/enable", nlohmann::json::object());

  EtcdClient anonymous(admin_opts);
  CHECK_THROWS_AS(anonymous.Get("/n/config"), cni::Error);
  EtcdOptions wrong = admin_opts;
  wrong.username = "root";
  wrong.password = "nope";
  EtcdClient bad(wrong);
  CHECK_THROWS_AS(bad.Get("/n/config"), cni::Error);

  EtcdOptions o = admin_opts;
  o.username = "root";
  o.password = "rootpw";
  EtcdClient c(o);
  c.Put("/n/config", "x");
  CHECK(c.Get("/n/config")->value == "x");
  CHECK(WatchStarts(c, "/n/"));
  // the simple token expires after 1 s unused; the client logs in again by itself
  usleep(3000000);
  CHECK(c.Get("/n/config")->value == "x");
  int64_t lease = c.GrantLease(60);
  CHECK(c.CreateIfAbsent("/n/subnets/10.1.5.0-24", "a", lease));
}

TEST_CASE("agent etcd: TLS with a client certificate", "[agent][etcd]") {
  if (access("/usr/bin/etcd", X_OK) != 0 || access("/usr/bin/openssl", X_OK) != 0) {
    WARN("skipped: etcd or openssl is not installed");
    return;
  }
  char tmpl[] = "/tmp/weft-etcd-tls-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  // A throw-away CA, a server certificate for 127.0.0.1 and a client certificate.
  {
    std::ofstream gen(dir + "/gen.sh");
    gen << "set -e\ncd '" << dir << "'\nprintf 'subjectAltName=IP:127.0.0.1\\n' >san.ext\n"
        << "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
        << "openssl req -x509 $K -keyout ca.key -out ca.crt -days 1 -subj /CN=weft-test-ca\n"
        << "for n in server client; do\n  openssl req $K -keyout $n.key -out $n.csr -subj /CN=$n\n"
        << "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 1 "
           "-extfile san.ext\ndone\n";
  }
  REQUIRE(std::system(("bash '" + dir + "/gen.sh' >'" + dir + "/gen.log' 2>&1").c_str()) == 0);
  EtcdOptions o;
  o.cafile = dir + "/ca.crt";
  o.certfile = dir + "/client.crt";
  o.keyfile = dir + "/client.key";
  Etcd etcd({"--cert-file", dir + "/server.crt", "--key-file", dir + "/server.key", "--client-cert-auth",
             "--trusted-ca-file", dir + "/ca.crt"},
            o, "https", dir);
  REQUIRE(etcd.ok);
  o.endpoints = {etcd.url};
  EtcdClient c(o);
  c.Put("/n/config", "tls");
  CHECK(c.Get("/n/config")->value == "tls");
  CHECK(WatchStarts(c, "/n/"));

  EtcdOptions no_cert = o;  // the server demands a client certificate
  no_cert.certfile.clear();
  no_cert.keyfile.clear();
  EtcdClient anonymous(no_cert);
  CHECK_THROWS_AS(anonymous.Get("/n/config"), cni::Error);
  EtcdOptions no_ca = o;  // the server certificate is not trusted without the CA
  no_ca.cafile.clear();
  EtcdClient untrusted(no_ca);
  CHECK_THROWS_AS(untrusted.Get("/n/config"), cni::Error);
}
