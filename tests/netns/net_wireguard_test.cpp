// cni::net::wg against real wireguard-go processes: two throw-away "node" namespaces joined by a
// veth, a device in each through EnsureDevice (auto mode: this kernel has no WireGuard module,
// so the fallback to wireguard-go is what runs; with the module the kernel path would), keys,
// ports and peers set through our code, then a ping across the tunnel. Then: wg(8) reads the
// same state; a second EnsureDevice adopts the running wireguard-go and keeps its peers; a
// deleted tun link (wireguard-go exits with it) is restarted by the supervisor with its peers
// replayed, and traffic flows again once the address and route are back.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <catch2/catch.hpp>

#include "cni/net/netlink.h"
#include "cni/net/wireguard.h"
#include "netns_fixture.h"

using namespace cni::net;
namespace wg = cni::net::wg;

namespace {

bool Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

std::string Output(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  ::pclose(f);
  return out;
}

bool HaveWireguardGo() { return Run("command -v wireguard-go"); }

/// ICMP echo from inside `ns` (iputils may be absent: the suite's own pinger, 3 s bound).
bool Ping(const weft_test::TempNetns& ns, const std::string& dst) {
  return Run("ip netns exec " + ns.name() + " python3 " WEFT_SOURCE_DIR "/tests/netns/flannel_ping.py " + dst);
}

/// Address, link up and the overlay route, as the agent sets them on its device.
void Plumb(Socket& s, const std::string& dev, const char* addr) {
  Link l = s.GetLink(dev);
  s.ReplaceAddr({.index = l.index, .addr = *cni::IPNet::Parse(addr)});
  s.SetUp(l.index);
  s.ReplaceRoute({.dst = *cni::IPNet::Parse("10.244.0.0/16"), .index = l.index, .scope = 253});
}

/// Deletes the wireguard-go links on scope exit (their processes exit with them), after the
/// Device objects (declared later) stopped supervising.
struct LinkCleanup {
  std::vector<std::pair<const weft_test::TempNetns*, std::string>> links;
  ~LinkCleanup() {
    for (auto& [ns, name] : links) {
      try {
        ns->Socket().DeleteLink(name);
      } catch (...) {
      }
    }
  }
};

}  // namespace

TEST_CASE("wireguard: two wireguard-go nodes configured through cni::net::wg ping across", "[netns][wireguard]") {
  if (!HaveWireguardGo()) {
    WARN("skipped: wireguard-go is not installed");
    return;
  }
  weft_test::TempNetns a("wwga"), b("wwgb");
  std::string pid = std::to_string(::getpid() % 100000);
  std::string da = "wwga" + pid, db = "wwgb" + pid;
  LinkCleanup cleanup;
  cleanup.links = {{&a, da}, {&b, db}};

  Socket sa = a.Socket(), sb = b.Socket();
  sa.CreateVeth({.name = "wwg-u", .peer_name = "wwg-u", .peer_netns_fd = b.ns().fd(), .up = true});
  sa.ReplaceAddr({.index = sa.GetLink(std::string("wwg-u")).index, .addr = *cni::IPNet::Parse("192.168.77.1/24")});
  sb.ReplaceAddr({.index = sb.GetLink(std::string("wwg-u")).index, .addr = *cni::IPNet::Parse("192.168.77.2/24")});
  sb.SetUp(std::string("wwg-u"));
  // The underlay first (a handshake sent before the veth has carrier is only retried after 5 s).
  REQUIRE(Ping(a, "192.168.77.2"));

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, bool>> restarts;
  auto on_restart = [&](const std::string& what, bool ok) {
    std::lock_guard l(mu);
    restarts.emplace_back(what, ok);
    cv.notify_all();
  };

  auto dev_a = wg::EnsureDevice({.name = da, .mtu = 1400, .netns = &a.ns(), .on_restart = on_restart});
  auto dev_b = wg::EnsureDevice({.name = db, .mtu = 1370, .netns = &b.ns()});
  CHECK(dev_a->backend() == wg::Backend::kUserspace);  // no module on this kernel
  CHECK(sa.GetLink(da).kind == "tun");
  CHECK(sa.GetLink(da).mtu == 1400);
  CHECK(sb.GetLink(db).mtu == 1370);

  wg::Key ka = wg::GeneratePrivateKey(), kb = wg::GeneratePrivateKey();
  wg::Key psk = wg::GeneratePrivateKey();
  dev_a->Configure({.private_key = ka, .listen_port = 51820, .replace_peers = true,
                    .peers = {{.public_key = wg::PublicKey(kb), .preshared_key = psk,
                               .endpoint = wg::Endpoint::Parse("192.168.77.2:51821"),
                               .persistent_keepalive = 0, .replace_allowed_ips = true,
                               .allowed_ips = {*cni::IPNet::Parse("10.244.2.0/24")}}}});
  dev_b->Configure({.private_key = kb, .listen_port = 51821, .replace_peers = true,
                    .peers = {{.public_key = wg::PublicKey(ka), .preshared_key = psk,
                               .endpoint = wg::Endpoint::Parse("192.168.77.1:51820"),
                               .replace_allowed_ips = true,
                               .allowed_ips = {*cni::IPNet::Parse("10.244.1.0/24")}}}});
  // Sending the same port again is filtered (wireguard-go would rebind).
  dev_a->Configure({.listen_port = 51820});

  Plumb(sa, da, "10.244.1.0/32");
  Plumb(sb, db, "10.244.2.0/32");
  REQUIRE(Ping(a, "10.244.2.0"));

  wg::DeviceState st = dev_a->Get();
  CHECK(st.private_key == ka);
  CHECK(st.listen_port == 51820);
  REQUIRE(st.peers.size() == 1);
  CHECK(st.peers[0].public_key == wg::PublicKey(kb));
  CHECK(st.peers[0].preshared_key == psk);
  CHECK(st.peers[0].last_handshake_sec > 0);
  CHECK(st.peers[0].rx_bytes > 0);

  // wg(8) talks to the same socket and agrees: "<peer key>\t<psk>\t<endpoint>\t<allowed>".
  std::string dump = Output("wg show " + da + " dump");
  CHECK(dump.find(wg::PublicKey(ka).Base64() + "\t51820") != std::string::npos);
  CHECK(dump.find(wg::PublicKey(kb).Base64() + "\t" + psk.Base64() + "\t192.168.77.2:51821\t10.244.2.0/24") !=
        std::string::npos);

  // A second EnsureDevice (a restarted agent) adopts the running wireguard-go, peers intact.
  dev_b.reset();
  dev_b = wg::EnsureDevice({.name = db, .mtu = 1370, .netns = &b.ns()});
  CHECK(dev_b->Get().peers.size() == 1);
  CHECK(dev_b->Get().private_key == kb);

  // The device's tun deleted: wireguard-go exits with it, the supervisor starts another and
  // replays key, port and peer.
  sa.DeleteLink(da);
  {
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, std::chrono::seconds(15), [&] { return !restarts.empty(); }));
    INFO(restarts[0].first);
    CHECK(restarts[0].second);
  }
  st = dev_a->Get();
  CHECK(st.private_key == ka);
  CHECK(st.listen_port == 51820);
  REQUIRE(st.peers.size() == 1);
  CHECK(st.peers[0].allowed_ips == std::vector<cni::IPNet>{*cni::IPNet::Parse("10.244.2.0/24")});
  CHECK(sa.GetLink(da).mtu == 1400);  // the new tun gets the device's MTU again
  Plumb(sa, da, "10.244.1.0/32");
  CHECK(Ping(a, "10.244.2.0"));

  // A same-named link of another kind is never taken over.
  sa.CreateBridge({.name = "wwgx" + pid});
  CHECK_THROWS_WITH(wg::EnsureDevice({.name = "wwgx" + pid, .netns = &a.ns()}),
                    "\"wwgx" + pid + "\" already exists but is not a WireGuard device (kind \"bridge\"); not touching it");
  CHECK_THROWS_WITH(wg::EnsureDevice({.name = "wwgy" + pid, .wireguard_go = "wwg-no-such-binary", .netns = &a.ns()}),
                    Catch::Contains("not found on $PATH"));
}
