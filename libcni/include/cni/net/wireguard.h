// A WireGuard device behind one small interface, with two implementations:
//  - the kernel's: an rtnetlink link of kind "wireguard", configured through the generic-netlink
//    family "wireguard" (wireguard_genl.cpp);
//  - the userspace one: a wireguard-go process that weft starts itself (inside the wanted
//    network namespace), supervises (restarted when it dies, its configuration replayed) and
//    configures over its UAPI socket /var/run/wireguard/<dev>.sock (wireguard_uapi.cpp). A
//    wireguard-go that already serves that device is adopted, not replaced.
// EnsureDevice picks the kernel when it can create a "wireguard" link and falls back to
// wireguard-go when the kernel answers "not supported" (no module). Configuration is the
// protocol's own model (Config: device keys plus a list of peer changes), so both transports
// render the same value; Get() reads the device back. Keys are 32-byte Curve25519 values
// printed base64 (wg(8), leases) or hex (UAPI); the public key is derived with Nettle.
// Destroying a Device object never removes the device: a restarted agent adopts it and keeps
// the sessions.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/ip.h"

namespace cni::net {
class Netns;
}

namespace cni::net::wg {

/// A Curve25519 key (private, public or preshared).
struct Key {
  std::array<uint8_t, 32> b{};
  /// Standard base64 with padding (44 characters); CR/LF are skipped as Go does. Throws
  /// Error(kDecodingFailure) with wgtypes' texts: "illegal base64 data at input byte N",
  /// "incorrect key size: N".
  static Key FromBase64(std::string_view s);
  /// 64 hex digits (either case); nullopt otherwise.
  static std::optional<Key> FromHex(std::string_view s);
  std::string Base64() const;
  std::string Hex() const;  // lower case, as UAPI
  bool IsZero() const;
  auto operator<=>(const Key&) const = default;
};

/// 32 bytes from getrandom(2), clamped as `wg genkey` does.
Key GeneratePrivateKey();
/// X25519(private, 9) (RFC 7748), through Nettle's curve25519_mul_g.
Key PublicKey(const Key& private_key);

/// A UDP endpoint: "192.0.2.1:51820" or "[2001:db8::1]:51820".
struct Endpoint {
  IP ip{};
  uint16_t port = 0;
  static std::optional<Endpoint> Parse(std::string_view s);
  std::string String() const;
  auto operator<=>(const Endpoint&) const = default;  // NOLINT(modernize-use-nullptr)
};

/// One peer change of a Config. Unset optionals leave the peer's value as it is.
struct PeerConfig {
  Key public_key{};
  bool remove = false;                     // remove the peer (unknown peers: no-op)
  std::optional<Key> preshared_key{};      // a zero key clears it
  std::optional<Endpoint> endpoint{};
  std::optional<uint16_t> persistent_keepalive{};  // seconds, 0 = off
  bool replace_allowed_ips = false;        // allowed_ips replace the peer's list
  std::vector<IPNet> allowed_ips{};        // masked prefixes; appended unless replaced
};

/// One configuration change of a device (a UAPI `set=1`, a WG_CMD_SET_DEVICE).
struct Config {
  std::optional<Key> private_key{};
  std::optional<uint16_t> listen_port{};
  std::optional<uint32_t> fwmark{};
  bool replace_peers = false;  // peers not listed are removed
  std::vector<PeerConfig> peers{};
};

/// A peer as read back from the device.
struct Peer {
  Key public_key{};
  Key preshared_key{};  // zero when none
  std::optional<Endpoint> endpoint{};
  uint16_t persistent_keepalive = 0;
  std::vector<IPNet> allowed_ips{};
  int64_t last_handshake_sec = 0;  // 0 before the first handshake
  uint64_t rx_bytes = 0, tx_bytes = 0;
  bool operator==(const Peer&) const = default;
};

struct DeviceState {
  std::optional<Key> private_key{};
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  std::vector<Peer> peers{};  // in the device's order
  const Peer* FindPeer(const Key& public_key) const;
};

/// The state after applying `c` to `s`, with WireGuard's semantics (replace_peers, remove,
/// replace_allowed_ips, an allowed IP moving to the last peer that claims it). Counters and
/// handshake times are kept. Used to replay a restarted wireguard-go's configuration.
DeviceState Apply(DeviceState s, const Config& c);

/// A Config that takes a fresh device to `s` (key, port, fwmark, every peer, replace_peers).
Config ConfigFor(const DeviceState& s);

enum class Backend { kKernel, kUserspace };

/// A cni::Error (999) from the device that keeps the errno it reported (positive), e.g.
/// EADDRINUSE when the listen port is taken.
class DeviceError : public Error {
 public:
  DeviceError(int err, std::string msg) : Error(kInternal, std::move(msg)), errno_(err) {}
  int err() const { return errno_; }

 private:
  int errno_;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual Backend backend() const = 0;
  virtual const std::string& name() const = 0;
  /// Applies `c` (throws DeviceError). Userspace: a listen_port equal to the current one is
  /// not sent (wireguard-go rebinds its sockets on every listen_port line).
  virtual void Configure(const Config& c) = 0;
  /// Reads the device (throws DeviceError; ENODEV when it is gone).
  virtual DeviceState Get() = 0;
};

struct DeviceSpec {
  enum class Mode { kAuto, kKernel, kUserspace };
  std::string name{};       // at most 15 characters
  uint32_t mtu = 0;         // set on the link (0: leave it)
  Mode mode = Mode::kAuto;  // kAuto: kernel when it can create the link, else wireguard-go
  /// wireguard-go: a path, or a name looked up on $PATH. Empty: "wireguard-go".
  std::string wireguard_go{};
  /// The namespace the link lives in; nullptr: the calling thread's.
  const Netns* netns = nullptr;
  /// Userspace only: called from the supervisor thread after wireguard-go died and was started
  /// again (or could not be), with a sentence saying what happened and `ok` = it runs again with
  /// the configuration replayed. The new link has no addresses or routes: the caller re-adds
  /// them.
  std::function<void(const std::string& what, bool ok)> on_restart{};
};

/// The device `spec.name` in `spec.netns`: an existing kernel WireGuard link or a running
/// wireguard-go for that name is adopted (its configuration kept); otherwise a kernel link is
/// created, or, when the kernel cannot (EOPNOTSUPP: no module) and the mode allows it,
/// wireguard-go is started. A same-named link of another kind is an error, never deleted.
std::unique_ptr<Device> EnsureDevice(const DeviceSpec& spec);

/// The UAPI text protocol (wireguard-go, `wg` over /var/run/wireguard/<dev>.sock): pure
/// rendering and parsing, exposed for the unit tests.
namespace uapi {
/// "set=1\n" + device keys + one section per peer + "\n".
std::string RenderSet(const Config& c);
/// "get=1\n\n".
std::string RenderGet();
/// The errno of a complete reply ("errno=<n>\n\n" at its end), as a positive number (wireguard-go
/// writes negative values; the sign is dropped). nullopt when the reply is incomplete.
std::optional<int> ReplyErrno(std::string_view reply);
/// Parses a get reply; throws DeviceError when errno != 0 or a line is malformed.
DeviceState ParseGet(std::string_view reply);
}  // namespace uapi

}  // namespace cni::net::wg
