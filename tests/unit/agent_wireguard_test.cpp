// weftd's wireguard backend without a device: flanneld's Backend keys and defaults, the MTU rule,
// the key file, BackendData bytes, lease → peer, and the peer diff (key change replaces the old
// peer, removed peers come back, roaming endpoints survive while they work).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "agent/backend/wireguard/config.h"
#include "agent/backend/wireguard/peers.h"
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
  auto p = std::get<WantedPeer>(PeerFor(l, 51820));
  CHECK(p.public_key == K(2));
  CHECK(p.endpoint.String() == "192.168.64.3:51900");
  CHECK(p.allowed_ips == std::vector<IPNet>{N("10.42.2.0/24")});
  l.backend_data = J((R"({"PublicKey":")" + K(2).Base64() + R"("})").c_str());
  CHECK(std::get<WantedPeer>(PeerFor(l, 51820)).endpoint.String() == "192.168.64.3:51820");  // our port

  l.backend_data = J(R"({"PublicKey":"b@d"})");
  CHECK(std::get<std::string>(PeerFor(l, 51820)) ==
        "skipping subnet 10.42.2.0/24: bad public key \"b@d\": wgtypes: failed to parse base64-encoded key: "
        "illegal base64 data at input byte 1");
  l.backend_data = J(R"({"PublicKey":1})");
  CHECK(std::get<std::string>(PeerFor(l, 51820)).starts_with("failed to unmarshal BackendData: json: cannot unmarshal number"));
  l.backend_type = "vxlan";
  CHECK(std::get<std::string>(PeerFor(l, 51820)) == "Ignoring non-wireguard subnet: type=vxlan");
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
