// The wireguard backend's settings, key file and lease data (see config.h).
#include "agent/backend/wireguard/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cni/error.h"
#include "cni/files.h"

namespace weft::agent::wireguard {

namespace {

[[noreturn]] void Invalid(const std::string& msg) { throw cni::Error(cni::kInvalidNetworkConfig, msg); }

uint16_t Port(const cni::Decoder& d, std::string_view key, uint16_t def) {
  std::optional<int64_t> v = d.Int(key);
  if (!v) return def;
  if (*v < 1 || *v > 65535) Invalid("invalid " + std::string(key) + " " + std::to_string(*v) + ": not a UDP port");
  return static_cast<uint16_t>(*v);
}

}  // namespace

Config ParseConfig(const cni::Json& backend) {
  Config c;
  // Go decodes into an anonymous struct: its fields print as ".ListenPort".
  cni::Decoder d(backend, "");
  try {
    c.listen_port = Port(d, "ListenPort", c.listen_port);
    c.listen_port_v6 = Port(d, "ListenPortV6", c.listen_port_v6);
    c.mtu = d.Int("MTU").value_or(0);
    std::string psk = d.String("PSK").value_or("");
    int64_t ka = d.Int("PersistentKeepaliveInterval", "time.Duration").value_or(0);
    if (ka < 0 || ka > 65535) Invalid("invalid PersistentKeepaliveInterval " + std::to_string(ka) + ": 0..65535 seconds");
    c.keepalive = static_cast<uint16_t>(ka);
    std::optional<std::string> mode = d.String("Mode");
    if (!mode || *mode == "separate") c.mode = Mode::kSeparate;
    else if (*mode == "auto") c.mode = Mode::kAuto;
    else if (*mode == "ipv4") c.mode = Mode::kIPv4;
    else if (*mode == "ipv6") c.mode = Mode::kIPv6;
    else Invalid("no valid Mode configured");
    if (!psk.empty()) {
      try {
        c.psk = wg::Key::FromBase64(psk);
      } catch (const cni::Error& e) {
        Invalid("could not parse psk: " + e.msg());
      }
    }
  } catch (const cni::Error& e) {
    if (e.code() == cni::kInvalidNetworkConfig) throw;
    Invalid("error decoding backend config: " + e.msg());
  }
  if (c.mtu < 0 || (c.mtu > 0 && c.mtu <= kOverhead + 68))
    Invalid("invalid MTU " + std::to_string(c.mtu) + ": the device would get less than 68");
  return c;
}

int DeviceMtu(const Config& c, int ext_mtu) { return static_cast<int>(c.mtu ? c.mtu : ext_mtu) - kOverhead; }

std::string KeyFilePath(const char* env) { return env ? std::string(env) : std::string(kDefaultKeyFile); }

wg::Key LoadOrCreateKey(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    wg::Key k = wg::GeneratePrivateKey();
    try {
      size_t slash = path.rfind('/');
      if (slash != std::string::npos && slash > 0) cni::EnsureDir(path.substr(0, slash), 0755);
      cni::WriteFileAtomic(path, k.Base64(), 0400);
    } catch (const cni::Error& e) {
      throw cni::Error(cni::kInternal, "could not write key file " + path + ": " + e.msg());
    }
    return k;
  }
  // Followed through symlinks, as flanneld does (a Kubernetes secret volume is one).
  std::ifstream f(path, std::ios::binary);
  std::stringstream text;
  text << f.rdbuf();
  if (!f) throw cni::Error(cni::kInternal, "could not read key file " + path + ": " + std::strerror(errno));
  try {
    return wg::Key::FromBase64(text.str());
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInvalidNetworkConfig, "could not parse private key from file " + path + ": " + e.msg());
  }
}

std::string MarshalLeaseData(const wg::Key& public_key, uint16_t port) {
  // Base64 needs no JSON escaping: the bytes are those of Go's json.Marshal.
  return "{\"PublicKey\":\"" + public_key.Base64() + "\",\"Port\":" + std::to_string(port) + "}";
}

OwnLeaseData OwnData(const Config& c, const wg::Key& public_key, bool enable_ipv4, bool enable_ipv6) {
  OwnLeaseData out;
  if (enable_ipv4) out.v4 = MarshalLeaseData(public_key, c.listen_port);
  if (enable_ipv6) out.v6 = MarshalLeaseData(public_key, c.listen_port_v6);
  return out;
}

LeaseData ParseLeaseData(const cni::Json& data) {
  LeaseData out;
  if (data.is_null()) return out;
  if (!data.is_object())
    throw cni::Error(cni::kDecodingFailure, "json: cannot unmarshal " + cni::GoJsonType(data) +
                                                " into Go value of type wireguard.wireguardLeaseAttrs");
  cni::Decoder d(data, "wireguardLeaseAttrs");
  out.public_key = d.String("PublicKey").value_or("");
  out.port = static_cast<uint16_t>(d.Int("Port", "uint16").value_or(0));
  return out;
}

}  // namespace weft::agent::wireguard
