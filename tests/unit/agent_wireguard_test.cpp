// weftd's wireguard backend without a device: flanneld's Backend keys and defaults, the MTU rule,
// the key file, BackendData bytes, lease → peer, and the peer diff (key change replaces the old
// peer, removed peers come back, roaming endpoints survive while they work); `[dualstack]`: the
// devices per Mode, BackendV6Data and the lease values, peers of dual-stack and IPv6-only leases
// in each Mode, flanneld's selectMode.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "agent/backend/wireguard/config.h"
#include "agent/backend/wireguard/peers.h"
#include "agent/subnet/lease.h"
#include "cni/error.h"

using namespace weft::agent::wireguard;
using cni::IPNet;

static cni::Json J(const char* s) { return cni::ParseJson(s); }
static wg::Key K(uint8_t fill) {
  wg::Key k;
  k.b.fill(fill);
  return k;
}
static IPNet N(const char* s) { return *IPNet::Parse(s); }

TEST_CASE("wireguard backend: defaults and keys as flanneld", "[unit][wireguard]") {
  Config d = ParseConfig(J(R"({"Type":"wireguard"})"));
  CHECK(d.listen_port == 51820);
  CHECK(d.listen_port_v6 == 51821);
  CHECK(d.mtu == 0);
  CHECK_FALSE(d.psk.has_value());
  CHECK(d.keepalive == 0);
  CHECK(d.mode == Mode::kSeparate);

  std::string psk = K(7).Base64();
  Config c = ParseConfig(J((R"({"type":"wireguard","listenport":5000,"LISTENPORTV6":5001,"psk":")" + psk +
                            R"(","persistentKeepaliveInterval":25,"Mode":"auto","mtu":1400,"Unknown":1})").c_str()));
  CHECK(c.listen_port == 5000);
  CHECK(c.listen_port_v6 == 5001);
  CHECK(c.psk == K(7));
  CHECK(c.keepalive == 25);
  CHECK(c.mode == Mode::kAuto);
  CHECK(c.mtu == 1400);
  CHECK(ParseConfig(J(R"({"Mode":"ipv4"})")).mode == Mode::kIPv4);
  CHECK(ParseConfig(J(R"({"Mode":"ipv6"})")).mode == Mode::kIPv6);

  // k3s's wireguard-native backend object.
  Config k3s = ParseConfig(J(R"({"Type":"wireguard","PersistentKeepaliveInterval":25})"));
  CHECK(k3s.keepalive == 25);
  CHECK(k3s.mode == Mode::kSeparate);

  CHECK(DeviceMtu(d, 1500) == 1420);
  CHECK(DeviceMtu(c, 1500) == 1320);  // MTU is the underlay's
}

TEST_CASE("wireguard backend: bad config is a clear start-up error", "[unit][wireguard]") {
  auto msg = [](const char* j) {
    try {
      ParseConfig(J(j));
    } catch (const cni::Error& e) {
      CHECK(e.code() == cni::kInvalidNetworkConfig);
      return e.msg();
    }
    return std::string("no error");
  };
  CHECK(msg(R"({"PSK":"not base64!"})") ==
        "could not parse psk: wgtypes: failed to parse base64-encoded key: illegal base64 data at input byte 3");
  CHECK(msg(R"({"PSK":"AAAA"})") == "could not parse psk: wgtypes: incorrect key size: 3");
  CHECK(msg(R"({"Mode":""})") == "no valid Mode configured");
  CHECK(msg(R"({"Mode":"Separate"})") == "no valid Mode configured");
  CHECK(msg(R"({"PersistentKeepaliveInterval":"25s"})") ==
        "error decoding backend config: json: cannot unmarshal string into Go struct field "
        ".PersistentKeepaliveInterval of type time.Duration");
  CHECK(msg(R"({"ListenPort":"51820"})") ==
        "error decoding backend config: json: cannot unmarshal string into Go struct field .ListenPort of type int");
  CHECK(msg(R"({"ListenPort":70000})") == "invalid ListenPort 70000: not a UDP port");
  CHECK(msg(R"({"MTU":100})") == "invalid MTU 100: the device would get less than 68");
}

TEST_CASE("wireguard backend: key file as flanneld, kept across restarts", "[unit][wireguard]") {
  CHECK(KeyFilePath(nullptr) == "/run/flannel/wgkey");
  CHECK(KeyFilePath("/etc/weft/wgkey") == "/etc/weft/wgkey");
  CHECK(KeyFilePath("") == "");  // set-but-empty is used as is, like flanneld

  char tmpl[] = "/tmp/wwg-key-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  std::filesystem::path dir(tmpl);
  struct Rm {
    std::filesystem::path p;
    ~Rm() { std::filesystem::remove_all(p); }
  } rm{dir};
  std::string path = (dir / "sub" / "wgkey").string();
  wg::Key k = LoadOrCreateKey(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0400);
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  CHECK(text == k.Base64());  // 44 characters, no newline
  CHECK(text.size() == 44);
  CHECK((k.b[0] & 7) == 0);  // clamped
  CHECK(LoadOrCreateKey(path) == k);

  std::string genkey = (dir / "genkey").string();
  std::ofstream(genkey) << K(9).Base64() << "\n";  // `wg genkey >file`
  CHECK(LoadOrCreateKey(genkey) == K(9));
  std::string bad = (dir / "bad").string();
  std::ofstream(bad) << "bad key";
  CHECK_THROWS_WITH(LoadOrCreateKey(bad), "could not parse private key from file " + bad +
                                              ": wgtypes: failed to parse base64-encoded key: illegal base64 data at input byte 3");
}

TEST_CASE("wireguard backend: BackendData bytes", "[unit][wireguard]") {
  wg::Key pub = *wg::Key::FromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK(MarshalLeaseData(pub, 51820) == R"({"PublicKey":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=","Port":51820})");
  LeaseData d = ParseLeaseData(J(R"({"PublicKey":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=","Port":51900})"));
  CHECK(d.public_key == pub.Base64());
  CHECK(d.port == 51900);
  CHECK(ParseLeaseData(J(R"({"PublicKey":"x"})")).port == 0);  // before flannel v0.26.6
  CHECK(ParseLeaseData(J("null")).public_key.empty());
  CHECK_THROWS_WITH(ParseLeaseData(J(R"("abc")")),
                    "json: cannot unmarshal string into Go value of type wireguard.wireguardLeaseAttrs");
  CHECK_THROWS_WITH(ParseLeaseData(J(R"({"Port":-1})")),
                    Catch::Contains("into Go struct field wireguardLeaseAttrs.Port of type uint16"));
}

TEST_CASE("wireguard backend: lease to peer", "[unit][wireguard]") {
  PeerLease l{.subnet = N("10.42.2.0/24"), .public_ip = *cni::IP::Parse("192.168.64.3"), .backend_type = "wireguard",
              .backend_data = J((R"({"PublicKey":")" + K(2).Base64() + R"(","Port":51900})").c_str())};
  const Tunnel v4 = Tunnels(Config{}, true, false).at(0);
  auto p = std::get<WantedPeer>(PeerFor(l, v4));
  CHECK(p.public_key == K(2));
  CHECK(p.endpoint.String() == "192.168.64.3:51900");
  CHECK(p.allowed_ips == std::vector<IPNet>{N("10.42.2.0/24")});
  l.backend_data = J((R"({"PublicKey":")" + K(2).Base64() + R"("})").c_str());
  CHECK(std::get<WantedPeer>(PeerFor(l, v4)).endpoint.String() == "192.168.64.3:51820");  // our port

  l.backend_data = J(R"({"PublicKey":"b@d"})");
  CHECK(std::get<std::string>(PeerFor(l, v4)) ==
        "skipping subnet 10.42.2.0/24: bad public key \"b@d\": wgtypes: failed to parse base64-encoded key: "
        "illegal base64 data at input byte 1");
  l.backend_data = J(R"({"PublicKey":1})");
  CHECK(std::get<std::string>(PeerFor(l, v4)).starts_with("failed to unmarshal BackendData: json: cannot unmarshal number"));
  l.backend_type = "vxlan";
  CHECK(std::get<std::string>(PeerFor(l, v4)) == "Ignoring non-wireguard subnet: type=vxlan");
}

TEST_CASE("wireguard backend: peer diff", "[unit][wireguard]") {
  Config cfg;
  cfg.keepalive = 25;
  cfg.psk = K(0x70);
  const int64_t now = 1'800'000'000;
  WantedPeer a{K(1), *wg::Endpoint::Parse("192.168.64.1:51820"), {N("10.42.1.0/24")}};
  WantedPeer b{K(2), *wg::Endpoint::Parse("192.168.64.2:51820"), {N("10.42.2.0/24")}};

  // Fresh device: both added, with keepalive, PSK, endpoint, allowed IPs replaced.
  wg::Config c = Diff({a, b}, {}, cfg, now);
  REQUIRE(c.peers.size() == 2);
  CHECK_FALSE(c.replace_peers);
  CHECK(c.peers[0].public_key == K(1));
  CHECK(c.peers[0].endpoint == a.endpoint);
  CHECK(c.peers[0].persistent_keepalive == 25);
  CHECK(c.peers[0].preshared_key == K(0x70));
  CHECK(c.peers[0].replace_allowed_ips);
  CHECK(c.peers[0].allowed_ips == a.allowed_ips);

  wg::DeviceState dev = wg::Apply({}, c);
  CHECK(Diff({a, b}, dev, cfg, now).peers.empty());  // in sync: nothing to do

  // Node 2 restarted with a new key: the new peer is set and the old one removed, not left
  // behind without allowed IPs.
  WantedPeer b2 = b;
  b2.public_key = K(3);
  c = Diff({a, b2}, dev, cfg, now);
  REQUIRE(c.peers.size() == 2);
  CHECK(c.peers[0].public_key == K(3));
  CHECK_FALSE(c.peers[0].remove);
  CHECK(c.peers[1].public_key == K(2));
  CHECK(c.peers[1].remove);
  dev = wg::Apply(dev, c);
  CHECK(dev.peers.size() == 2);
  CHECK(dev.FindPeer(K(2)) == nullptr);

  // Someone removed a peer (wg set … remove): the periodic check adds it back.
  wg::DeviceState removed = wg::Apply(dev, {.peers = {{.public_key = K(1), .remove = true}}});
  c = Diff({a, b2}, removed, cfg, now);
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].public_key == K(1));
  CHECK(c.peers[0].endpoint == a.endpoint);

  // A lease went away: its peer goes.
  c = Diff({a}, dev, cfg, now);
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].public_key == K(3));
  CHECK(c.peers[0].remove);

  // Roaming: an endpoint learned from the peer's packets survives while handshakes are fresh,
  // and is reset to the lease's after 180 s without one.
  wg::DeviceState roamed = dev;
  for (wg::Peer& p : roamed.peers) {
    p.endpoint = wg::Endpoint::Parse("203.0.113.9:40000");
    p.last_handshake_sec = now - 30;
  }
  CHECK(Diff({a, b2}, roamed, cfg, now).peers.empty());
  for (wg::Peer& p : roamed.peers) p.last_handshake_sec = now - 181;
  c = Diff({a, b2}, roamed, cfg, now);
  REQUIRE(c.peers.size() == 2);
  CHECK(c.peers[0].endpoint == a.endpoint);

  // A changed setting (keepalive) updates the peer without touching a working endpoint.
  for (wg::Peer& p : roamed.peers) p.last_handshake_sec = now - 1;
  cfg.keepalive = 0;
  c = Diff({a, b2}, roamed, cfg, now);
  REQUIRE(c.peers.size() == 2);
  CHECK_FALSE(c.peers[0].endpoint.has_value());
  CHECK(c.peers[0].persistent_keepalive == 0);

  // Two leases with one key (a node that moved to a new subnet): one peer with both subnets.
  WantedPeer a_new{K(1), *wg::Endpoint::Parse("192.168.64.1:51820"), {N("10.42.9.0/24")}};
  c = Diff({a, a_new}, {}, cfg, now);
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].allowed_ips == std::vector<IPNet>{N("10.42.1.0/24"), N("10.42.9.0/24")});

  // No PSK configured: none is sent to a peer that has none.
  cfg.psk.reset();
  c = Diff({a}, {}, cfg, now);
  REQUIRE(c.peers.size() == 1);
  CHECK_FALSE(c.peers[0].preshared_key.has_value());
}

static cni::IP A(const char* s) { return *cni::IP::Parse(s); }
static std::string Data(const wg::Key& k, int port) {
  return R"({"PublicKey":")" + k.Base64() + R"(","Port":)" + std::to_string(port) + "}";
}

TEST_CASE("wireguard backend: the devices of each Mode", "[unit][wireguard][dualstack]") {
  Config c;
  auto sep = Tunnels(c, true, true);
  REQUIRE(sep.size() == 2);
  CHECK((sep[0].name == "flannel-wg" && sep[0].port == 51820 && sep[0].v4 && !sep[0].v6 && !sep[0].single));
  CHECK((sep[1].name == "flannel-wg-v6" && sep[1].port == 51821 && !sep[1].v4 && sep[1].v6));
  auto only6 = Tunnels(c, false, true);  // IPv6-only separate: no flannel-wg (flannel PR #1601)
  REQUIRE(only6.size() == 1);
  CHECK(only6[0].name == "flannel-wg-v6");
  for (Mode m : {Mode::kAuto, Mode::kIPv4, Mode::kIPv6}) {
    c.mode = m;
    auto one = Tunnels(c, true, true);
    REQUIRE(one.size() == 1);
    CHECK((one[0].name == "flannel-wg" && one[0].port == 51820 && one[0].v4 && one[0].v6 && one[0].single));
    CHECK(one[0].endpoint_v6 == (m == Mode::kAuto ? std::nullopt : std::optional<bool>(m == Mode::kIPv6)));
  }
  c.mode = Mode::kIPv6;
  CHECK_THROWS_WITH(Tunnels(c, true, false), "wireguard Mode ipv6 needs IPv6 (EnableIPv6 is false)");
  c.mode = Mode::kIPv4;
  CHECK_THROWS_WITH(Tunnels(c, false, true), "wireguard Mode ipv4 needs IPv4 (EnableIPv4 is false)");
  c.mode = Mode::kAuto;
  CHECK(Tunnels(c, false, true).at(0).v6);
}

TEST_CASE("wireguard backend: BackendV6Data and the lease values", "[unit][wireguard][dualstack]") {
  wg::Key pub = *wg::Key::FromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const std::string k = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  for (Mode m : {Mode::kSeparate, Mode::kAuto, Mode::kIPv4, Mode::kIPv6}) {  // every Mode publishes ListenPortV6
    Config c;
    c.mode = m;
    OwnLeaseData d = OwnData(c, pub, true, true);
    CHECK(d.v4 == R"({"PublicKey":")" + k + R"(","Port":51820})");
    CHECK(d.v6 == R"({"PublicKey":")" + k + R"(","Port":51821})");
  }
  Config c;
  CHECK(OwnData(c, pub, true, false).v6.empty());
  CHECK(OwnData(c, pub, false, true).v4.empty());

  // The etcd values (flanneld's LeaseAttrs marshalled).
  weft::agent::LeaseAttrs a{.public_ip = A("192.168.64.3"), .public_ipv6 = A("fd00::3"), .backend_type = "wireguard",
                            .backend_data = OwnData(c, pub, true, true).v4,
                            .backend_v6_data = OwnData(c, pub, true, true).v6};
  CHECK(weft::agent::MarshalLeaseAttrs(a) ==
        R"({"PublicIP":"192.168.64.3","PublicIPv6":"fd00::3","BackendType":"wireguard","BackendData":{"PublicKey":")" + k +
            R"(","Port":51820},"BackendV6Data":{"PublicKey":")" + k + R"(","Port":51821}})");
  weft::agent::LeaseAttrs o{.public_ip = cni::IP::V4(0), .public_ipv6 = A("fd00::3"), .backend_type = "wireguard", .backend_data = "",
                            .backend_v6_data = OwnData(c, pub, false, true).v6};
  CHECK(weft::agent::MarshalLeaseAttrs(o) ==
        R"({"PublicIP":"0.0.0.0","PublicIPv6":"fd00::3","BackendType":"wireguard","BackendV6Data":{"PublicKey":")" + k +
            R"(","Port":51821}})");
}

TEST_CASE("wireguard backend: dual-stack peers in each Mode", "[unit][wireguard][dualstack]") {
  PeerLease l{.subnet = N("10.42.2.0/24"), .subnet6 = N("fd42:0:0:2::/64"), .public_ip = A("198.18.0.2"),
              .public_ipv6 = A("fd18::2"), .backend_type = "wireguard", .backend_data = J(Data(K(2), 51900).c_str()),
              .backend_v6_data = J(Data(K(2), 51901).c_str())};
  Config c;
  auto sep = Tunnels(c, true, true);
  auto p4 = std::get<WantedPeer>(PeerFor(l, sep[0]));
  CHECK(p4.endpoint.String() == "198.18.0.2:51900");
  CHECK(p4.allowed_ips == std::vector<IPNet>{N("10.42.2.0/24")});
  auto p6 = std::get<WantedPeer>(PeerFor(l, sep[1]));
  CHECK(p6.public_key == K(2));
  CHECK(p6.endpoint.String() == "[fd18::2]:51901");
  CHECK(p6.allowed_ips == std::vector<IPNet>{N("fd42:0:0:2::/64")});

  // Old data without Port: our own device's port (flannel-wg-v6's for the v6 peer).
  PeerLease old = l;
  old.backend_v6_data = J((R"({"PublicKey":")" + K(2).Base64() + R"("})").c_str());
  CHECK(std::get<WantedPeer>(PeerFor(old, sep[1])).endpoint.String() == "[fd18::2]:51821");

  // A v4-only lease: the v4 peer only; the v6 device skips it.
  PeerLease v4only = l;
  v4only.subnet6 = {};
  v4only.public_ipv6 = {};
  v4only.backend_v6_data.reset();
  CHECK(std::get<WantedPeer>(PeerFor(v4only, sep[0])).allowed_ips == std::vector<IPNet>{N("10.42.2.0/24")});
  CHECK(std::get<std::string>(PeerFor(v4only, sep[1])) == "lease 10.42.2.0/24: no IPv6 subnet, ignoring it on flannel-wg-v6");

  // Single tunnel: one peer with both subnets; the key from BackendV6Data; the endpoint by Mode,
  // on the port of the peer's one device (BackendData's), not ListenPortV6.
  l.backend_v6_data = J(Data(K(6), 51901).c_str());
  for (Mode m : {Mode::kIPv4, Mode::kIPv6, Mode::kAuto}) {
    c.mode = m;
    auto t = Tunnels(c, true, true).at(0);
    auto p = std::get<WantedPeer>(PeerFor(l, t, {.ext_v4 = A("198.18.0.1"), .ext_v6 = A("fd18::1")}));
    CHECK(p.public_key == K(6));
    CHECK(p.allowed_ips == std::vector<IPNet>{N("10.42.2.0/24"), N("fd42:0:0:2::/64")});
    CHECK(p.endpoint.String() == (m == Mode::kIPv6 ? "[fd18::2]:51900" : "198.18.0.2:51900"));
  }
  // IPv6-only, single tunnel: no BackendData, so our own ListenPort.
  PeerLease only6 = l;
  only6.subnet = {};
  only6.public_ip = cni::IP::V4(0);
  only6.backend_data.reset();
  c.mode = Mode::kAuto;
  auto t6 = Tunnels(c, false, true).at(0);
  auto q = std::get<WantedPeer>(PeerFor(only6, t6, {.ext_v6 = A("fd18::1")}));
  CHECK(q.endpoint.String() == "[fd18::2]:51820");
  CHECK(q.allowed_ips == std::vector<IPNet>{N("fd42:0:0:2::/64")});
  // IPv6-only, separate: flannel-wg-v6 on ListenPortV6.
  c.mode = Mode::kSeparate;
  auto s6 = Tunnels(c, false, true).at(0);
  CHECK(std::get<WantedPeer>(PeerFor(only6, s6)).endpoint.String() == "[fd18::2]:51901");
  only6.public_ipv6 = {};
  CHECK(std::get<std::string>(PeerFor(only6, s6)) == "skipping subnet fd42:0:0:2::/64: the lease has no PublicIPv6");
}

TEST_CASE("wireguard backend: auto picks the endpoint family as flanneld's selectMode", "[unit][wireguard][dualstack]") {
  const Local both{.ext_v4 = A("203.0.113.1"), .ext_v6 = A("2001:db8::1")};
  CHECK_FALSE(SelectV6(A("203.0.113.2"), {}, both));                      // peer has no IPv6
  CHECK_FALSE(SelectV6(A("203.0.113.2"), A("2001:db8::2"), both));         // public v4, we have v4
  CHECK(SelectV6(A("10.0.0.2"), A("2001:db8::2"), both));                  // private v4, public v6 both sides
  CHECK_FALSE(SelectV6(A("10.0.0.2"), A("fd00::2"), both));               // v6 private: v4
  CHECK_FALSE(SelectV6(A("192.168.1.2"), A("2001:db8::2"), {.ext_v4 = A("192.168.1.1"), .ext_v6 = A("fd00::1")}));
  CHECK(SelectV6(A("172.16.0.2"), A("2001:db8::2"), {.ext_v6 = A("2001:db8::1")}));
  CHECK_FALSE(SelectV6(A("100.64.0.2"), A("2001:db8::2"), both));          // CGNAT counts as public
  CHECK(SelectV6(cni::IP::V4(0), A("fd00::2"), {.ext_v6 = A("fd00::1")})); // IPv6-only peer (flanneld: 0.0.0.0)
}
