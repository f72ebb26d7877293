// cni::net::wg without a device: keys (RFC 7748 vector, base64/hex, clamping, wgtypes' error
// texts), endpoints, the configuration model (Apply/ConfigFor), UAPI request rendering and reply
// parsing, errno= replies included.
#include <cerrno>

#include <catch2/catch.hpp>

#include "cni/net/wireguard.h"

using namespace cni::net::wg;
using cni::IPNet;

static Key K(uint8_t fill) {
  Key k;
  k.b.fill(fill);
  return k;
}
static IPNet N(const char* s) { return *IPNet::Parse(s); }

TEST_CASE("wg: X25519 public key, RFC 7748 6.1", "[unit][wireguard]") {
  Key priv = *Key::FromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  CHECK(PublicKey(priv).Hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  // wg genkey / wg pubkey pair (computed with wireguard-tools on this machine).
  Key p2 = Key::FromBase64("OBgg7k6EXLgy8JglBKVywLsCGLRKuSkdRzzBUiSC/F8=");
  CHECK(PublicKey(p2).Base64() == "2BlVxw8SavZOCx3P8pLe6fUL6LJvh1HC/0WCq5BT8zc=");
}

TEST_CASE("wg: key encodings and generation", "[unit][wireguard]") {
  Key k = K(0xab);
  CHECK(k.Hex() == "abababababababababababababababababababababababababababababababab");
  CHECK(Key::FromHex(k.Hex()) == k);
  CHECK(Key::FromHex("AB" + k.Hex().substr(2)) == k);
  CHECK_FALSE(Key::FromHex(k.Hex().substr(1)).has_value());
  CHECK_FALSE(Key::FromHex("zz" + k.Hex().substr(2)).has_value());
  CHECK(Key::FromBase64(k.Base64()) == k);
  CHECK(k.Base64().size() == 44);
  CHECK(Key::FromBase64(k.Base64() + "\n") == k);  // `wg genkey >file` ends in a newline
  CHECK_THROWS_WITH(Key::FromBase64("not a key"),
                    "wgtypes: failed to parse base64-encoded key: illegal base64 data at input byte 3");
  CHECK_THROWS_WITH(Key::FromBase64("AAAA"), "wgtypes: incorrect key size: 3");
  CHECK_THROWS_WITH(Key::FromBase64(k.Base64() + " "),
                    "wgtypes: failed to parse base64-encoded key: illegal base64 data at input byte 44");
  Key g = GeneratePrivateKey();
  CHECK((g.b[0] & 7) == 0);
  CHECK((g.b[31] & 0xc0) == 0x40);
  CHECK(g != GeneratePrivateKey());
}

TEST_CASE("wg: endpoints", "[unit][wireguard]") {
  CHECK(Endpoint::Parse("192.0.2.1:51820")->String() == "192.0.2.1:51820");
  CHECK(Endpoint::Parse("[2001:db8::1]:51821")->String() == "[2001:db8::1]:51821");
  CHECK_FALSE(Endpoint::Parse("2001:db8::1:51821").has_value());
  CHECK_FALSE(Endpoint::Parse("[192.0.2.1]:1").has_value());
  CHECK_FALSE(Endpoint::Parse("192.0.2.1:65536").has_value());
  CHECK_FALSE(Endpoint::Parse("192.0.2.1:").has_value());
  CHECK_FALSE(Endpoint::Parse("192.0.2.1").has_value());
}

TEST_CASE("wg: Apply follows WireGuard's semantics", "[unit][wireguard]") {
  DeviceState s;
  Config c;
  c.private_key = K(1);
  c.listen_port = 51820;
  c.peers.push_back({.public_key = K(2), .endpoint = Endpoint::Parse("192.0.2.2:51820"),
                     .persistent_keepalive = 25, .replace_allowed_ips = true,
                     .allowed_ips = {N("10.42.2.7/24")}});
  s = Apply(s, c);
  REQUIRE(s.peers.size() == 1);
  CHECK(s.private_key == K(1));
  CHECK(s.listen_port == 51820);
  CHECK(s.peers[0].allowed_ips == std::vector<IPNet>{N("10.42.2.0/24")});  // masked
  CHECK(s.peers[0].persistent_keepalive == 25);

  // A second peer claiming the same subnet takes it (the kernel's and wireguard-go's rule).
  s = Apply(s, Config{.peers = {{.public_key = K(3), .allowed_ips = {N("10.42.2.0/24")}}}});
  REQUIRE(s.peers.size() == 2);
  CHECK(s.peers[0].allowed_ips.empty());
  CHECK(s.peers[1].allowed_ips == std::vector<IPNet>{N("10.42.2.0/24")});
  // Appending without replace keeps the list; remove drops a peer; unknown removals are no-ops.
  s = Apply(s, Config{.peers = {{.public_key = K(3), .allowed_ips = {N("10.42.3.0/24")}},
                                {.public_key = K(2), .remove = true},
                                {.public_key = K(9), .remove = true}}});
  REQUIRE(s.peers.size() == 1);
  CHECK(s.peers[0].allowed_ips == std::vector<IPNet>{N("10.42.2.0/24"), N("10.42.3.0/24")});
  // replace_peers and a zero private key.
  s = Apply(s, Config{.private_key = Key{}, .replace_peers = true});
  CHECK(s.peers.empty());
  CHECK_FALSE(s.private_key.has_value());
}

TEST_CASE("wg: ConfigFor replays a state onto a fresh device", "[unit][wireguard]") {
  DeviceState s;
  s.private_key = K(1);
  s.listen_port = 51820;
  s.peers.push_back({.public_key = K(2), .preshared_key = K(7), .endpoint = Endpoint::Parse("192.0.2.2:51820"),
                     .persistent_keepalive = 25, .allowed_ips = {N("10.42.2.0/24")}, .rx_bytes = 5});
  DeviceState fresh = Apply(DeviceState{.listen_port = 4000, .peers = {{.public_key = K(5)}}}, ConfigFor(s));
  s.peers[0].rx_bytes = 0;
  CHECK(fresh.private_key == s.private_key);
  CHECK(fresh.listen_port == 51820);
  CHECK(fresh.peers == s.peers);
}

TEST_CASE("wg: UAPI set rendering", "[unit][wireguard]") {
  Config c;
  c.private_key = K(0x11);
  c.listen_port = 51820;
  c.replace_peers = true;
  c.peers.push_back({.public_key = K(0x22), .preshared_key = K(0x33),
                     .endpoint = Endpoint::Parse("[fd00::2]:51821"), .persistent_keepalive = 0,
                     .replace_allowed_ips = true, .allowed_ips = {N("10.42.2.1/24"), N("fd42:2::/64")}});
  c.peers.push_back({.public_key = K(0x44), .remove = true, .allowed_ips = {N("10.0.0.0/8")}});
  std::string h11 = K(0x11).Hex(), h22 = K(0x22).Hex(), h33 = K(0x33).Hex(), h44 = K(0x44).Hex();
  CHECK(uapi::RenderSet(c) ==
        "set=1\n"
        "private_key=" + h11 + "\n"
        "listen_port=51820\n"
        "replace_peers=true\n"
        "public_key=" + h22 + "\n"
        "preshared_key=" + h33 + "\n"
        "endpoint=[fd00::2]:51821\n"
        "persistent_keepalive_interval=0\n"
        "replace_allowed_ips=true\n"
        "allowed_ip=10.42.2.0/24\n"
        "allowed_ip=fd42:2::/64\n"
        "public_key=" + h44 + "\n"
        "remove=true\n"
        "\n");
  CHECK(uapi::RenderSet(Config{}) == "set=1\n\n");
  CHECK(uapi::RenderGet() == "get=1\n\n");
}

TEST_CASE("wg: UAPI replies and errno", "[unit][wireguard]") {
  CHECK(uapi::ReplyErrno("errno=0\n\n") == 0);
  CHECK(uapi::ReplyErrno("errno=-22\n\n") == EINVAL);
  CHECK(uapi::ReplyErrno("errno=-98\n\n") == EADDRINUSE);
  CHECK_FALSE(uapi::ReplyErrno("errno=0\n").has_value());   // incomplete
  CHECK_FALSE(uapi::ReplyErrno("errno=-2").has_value());
  CHECK_FALSE(uapi::ReplyErrno("listen_port=1\n\n").has_value());
  try {
    uapi::ParseGet("errno=-5\n\n");
    FAIL("no throw");
  } catch (const DeviceError& e) {
    CHECK(e.err() == EIO);
    CHECK(e.msg() == "wireguard-go: get: errno=5 (Input/output error)");
  }

  // The field order of Debian's wireguard-go 0.0.20220316.
  std::string h1 = K(0x11).Hex(), h2 = K(0x22).Hex(), z(64, '0');
  DeviceState s = uapi::ParseGet("private_key=" + h1 + "\n"
                                 "listen_port=51820\n"
                                 "public_key=" + h2 + "\n"
                                 "preshared_key=" + z + "\n"
                                 "protocol_version=1\n"
                                 "endpoint=192.168.77.2:51820\n"
                                 "last_handshake_time_sec=1700000000\n"
                                 "last_handshake_time_nsec=5\n"
                                 "tx_bytes=148\n"
                                 "rx_bytes=92\n"
                                 "persistent_keepalive_interval=25\n"
                                 "allowed_ip=10.244.2.0/24\n"
                                 "allowed_ip=fd00:2::/64\n"
                                 "errno=0\n\n");
  CHECK(s.private_key == K(0x11));
  CHECK(s.listen_port == 51820);
  CHECK(s.fwmark == 0);
  REQUIRE(s.peers.size() == 1);
  const Peer& p = s.peers[0];
  CHECK(p.public_key == K(0x22));
  CHECK(p.preshared_key.IsZero());
  CHECK(p.endpoint->String() == "192.168.77.2:51820");
  CHECK(p.last_handshake_sec == 1700000000);
  CHECK(p.tx_bytes == 148);
  CHECK(p.rx_bytes == 92);
  CHECK(p.persistent_keepalive == 25);
  CHECK(p.allowed_ips == std::vector<IPNet>{N("10.244.2.0/24"), N("fd00:2::/64")});
  CHECK(s.FindPeer(K(0x22)) == &p);
  CHECK(s.FindPeer(K(0x23)) == nullptr);

  // A fresh device: no key, no port, no peers.
  DeviceState empty = uapi::ParseGet("errno=0\n\n");
  CHECK_FALSE(empty.private_key.has_value());
  CHECK(empty.peers.empty());
  CHECK_THROWS_WITH(uapi::ParseGet("listen_port=x\nerrno=0\n\n"), "malformed UAPI reply line \"listen_port=x\"");
  CHECK_THROWS_WITH(uapi::ParseGet("bogus\nerrno=0\n\n"), "malformed UAPI reply line \"bogus\"");
  CHECK_THROWS_WITH(uapi::ParseGet("listen_port=1\n"), "incomplete UAPI reply");
}
