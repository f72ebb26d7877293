// flanneld's `wireguard` backend settings, key file and lease data (flannel pkg/backend/wireguard):
// the Backend keys with flanneld's defaults and error texts (Go encoding/json: keys match
// case-insensitively, unknown keys are ignored), the device MTU rule (underlay MTU − 80), the
// node's private key file (WIREGUARD_KEY_FILE, else /run/flannel/wgkey; created 0400 when
// missing, reused across restarts) and the BackendData / backend-data bytes
// {"PublicKey":"<base64>","Port":N} exactly as flanneld writes them (BackendV6Data too, with
// ListenPortV6, whatever the Mode).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cni/json.h"
#include "cni/net/wireguard.h"

namespace weft::agent::wireguard {

namespace wg = cni::net::wg;

enum class Mode { kSeparate, kAuto, kIPv4, kIPv6 };

inline constexpr const char* kDevice = "flannel-wg";       // v4 (separate) or the only device
inline constexpr const char* kDeviceV6 = "flannel-wg-v6";  // v6 in separate mode
inline constexpr int kOverhead = 80;  // IPv6 worst case, used for both families as flanneld does
inline constexpr const char* kDefaultKeyFile = "/run/flannel/wgkey";
// The fail-closed route (not in flanneld): `unreachable <Network> metric 16384`, under the
// device route (metric 0; IPv6 reads it back as 1024) and the more specific cni0 route of the own
// subnet.
inline constexpr int kFailClosedType = 7;  // RTN_UNREACHABLE
inline constexpr uint32_t kFailClosedMetric = 16384;

struct Config {
  uint16_t listen_port = 51820;
  uint16_t listen_port_v6 = 51821;
  int64_t mtu = 0;                 // underlay MTU; 0: the external interface's
  std::optional<wg::Key> psk{};    // the same for every peer
  uint16_t keepalive = 0;          // PersistentKeepaliveInterval, seconds; 0 = off
  Mode mode = Mode::kSeparate;
};

/// Decodes the net-conf.json Backend object. Throws cni::Error(kInvalidNetworkConfig) with
/// flanneld's texts: "error decoding backend config: json: cannot unmarshal …",
/// "could not parse psk: wgtypes: …", "no valid Mode configured"; ports outside 1..65535 and
/// negative keepalives are refused too (flanneld would wrap them silently).
Config ParseConfig(const cni::Json& backend);

/// The device MTU and FLANNEL_MTU: (Config.mtu, or the external interface's) − 80.
int DeviceMtu(const Config& c, int ext_mtu);

/// flanneld's key file path: $WIREGUARD_KEY_FILE whenever it is set (`env` non-null), even empty.
std::string KeyFilePath(const char* env);

/// The private key in `path`: read (base64; a trailing newline from `wg genkey >file` is fine),
/// or, when the file does not exist, generated and written (directory 0755, file 0400, 44
/// characters, no newline; crash-safe). Throws "could not parse private key from file <path>:
/// …" or "could not write key file <path>: …".
wg::Key LoadOrCreateKey(const std::string& path);

/// {"PublicKey":"<44 base64>","Port":<port>}: flanneld's wireguardLeaseAttrs, both fields always.
std::string MarshalLeaseData(const wg::Key& public_key, uint16_t port);

/// What the node publishes: BackendData {K, ListenPort} when IPv4 is enabled, BackendV6Data
/// {K, ListenPortV6} when IPv6 is, in every Mode (empty: not published).
struct OwnLeaseData {
  std::string v4, v6;
};
OwnLeaseData OwnData(const Config& c, const wg::Key& public_key, bool enable_ipv4, bool enable_ipv6);

struct LeaseData {
  std::string public_key;  // as published (may be malformed: the peer is then skipped)
  uint16_t port = 0;       // 0: absent (flannel before v0.26.6): use our own listen port
};
/// Decodes BackendData like Go's json.Unmarshal into wireguardLeaseAttrs; throws cni::Error
/// with Go's text when it does not decode ("failed to unmarshal BackendData: …" is the caller's).
LeaseData ParseLeaseData(const cni::Json& data);

}  // namespace weft::agent::wireguard
