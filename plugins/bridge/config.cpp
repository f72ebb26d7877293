// bridge config decoding; see config.h.
#include "config.h"

#include <algorithm>
#include <set>

#include "cni/args.h"
#include "cni/error.h"

namespace bridge {

using cni::Decoder;
using cni::Error;
using cni::Json;

std::optional<std::string> ParseMac(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string digits;
  if (s.size() == 17 && (s[2] == ':' || s[2] == '-')) {
    for (size_t i = 0; i < 17; ++i) {
      if (i % 3 == 2) {
        if (s[i] != s[2]) return std::nullopt;
      } else {
        digits += s[i];
      }
    }
  } else if (s.size() == 14 && s[4] == '.' && s[9] == '.') {
    for (size_t i = 0; i < 14; ++i)
      if (i != 4 && i != 9) digits += s[i];
  } else {
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 0; i < 12; i += 2) {
    int hi = hex(digits[i]), lo = hex(digits[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (!out.empty()) out += ':';
    out += "0123456789abcdef"[hi];
    out += "0123456789abcdef"[lo];
  }
  return out;
}

std::vector<int> CollectVlanTrunk(const Json& trunk) {
  std::set<int> vids;
  if (!trunk.is_array()) return {};
  for (const Json& item : trunk) {
    if (item.is_null()) continue;
    Decoder d(item, "NetConf", "vlanTrunk");
    auto min = d.Int("minID"), max = d.Int("maxID"), id = d.Int("id");
    if (min && !max)
      throw Error(cni::kInternal,
                  "minID and maxID should be configured simultaneously, maxID is missing");
    if (!min && max)
      throw Error(cni::kInternal,
                  "minID and maxID should be configured simultaneously, minID is missing");
    if (min && max) {
      if (*min < 1 || *min > 4094) throw Error(cni::kInternal, "incorrect trunk minID parameter");
      if (*max < 1 || *max > 4094) throw Error(cni::kInternal, "incorrect trunk maxID parameter");
      if (*max < *min) throw Error(cni::kInternal, "minID is greater than maxID in trunk parameter");
      for (int64_t v = *min; v <= *max; ++v) vids.insert(static_cast<int>(v));
    }
    if (id) {
      if (*id < 1 || *id > 4094) throw Error(cni::kInternal, "incorrect trunk id parameter");
      vids.insert(static_cast<int>(*id));
    }
  }
  return {vids.begin(), vids.end()};
}

NetConf LoadNetConf(const Json& j, std::string_view cni_args) {
  NetConf n;
  std::string args_mac, rc_mac;
  try {
    Decoder d(j, "NetConf");
    n.name = d.String("name").value_or("");
    n.cni_version = d.String("cniVersion").value_or("");
    if (auto v = d.String("bridge"); v && !v->empty()) n.bridge = *v;
    n.is_gw = d.Bool("isGateway").value_or(false);
    n.is_default_gw = d.Bool("isDefaultGateway").value_or(false);
    n.force_address = d.Bool("forceAddress").value_or(false);
    n.ip_masq = d.Bool("ipMasq").value_or(false);
    n.ip_masq_backend = d.String("ipMasqBackend").value_or("");
    n.mtu = static_cast<int>(d.Int("mtu").value_or(0));
    n.hairpin = d.Bool("hairpinMode").value_or(false);
    n.promisc = d.Bool("promiscMode").value_or(false);
    n.vlan = static_cast<int>(d.Int("vlan").value_or(0));
    n.preserve_default_vlan = d.Bool("preserveDefaultVlan").value_or(false);
    n.macspoofchk = d.Bool("macspoofchk").value_or(false);
    n.enable_dad = d.Bool("enabledad").value_or(false);
    n.disable_container_interface = d.Bool("disableContainerInterface").value_or(false);
    n.port_isolation = d.Bool("portIsolation").value_or(false);
    if (auto ipam = d.Object("ipam", "types.IPAM")) n.ipam_type = ipam->String("type").value_or("");
    if (auto dns = d.Raw("dns"); dns && dns->is_object()) n.dns = cni::DNS::FromJson(*dns);
    if (auto trunk = d.Raw("vlanTrunk")) {
      if (!trunk->is_array()) d.Mismatch("vlanTrunk", *trunk, "[]*main.VlanTrunk");
      n.vlan_trunk.emplace();  // validated below, after the vlan range check
    }
    if (auto args = d.Object("args", "struct { Cni main.BridgeArgs \"json:\\\"cni,omitempty\\\"\" }")) {
      if (auto c = args->Object("cni", "main.BridgeArgs")) args_mac = c->String("mac").value_or("");
    }
    if (auto rc = d.Object("runtimeConfig", "struct { Mac string \"json:\\\"mac,omitempty\\\"\" }")) {
      rc_mac = rc->String("mac").value_or("");
    }
  } catch (const Error& e) {
    throw Error(e.code() == cni::kDecodingFailure ? cni::kInternal : e.code(),
                "failed to load netconf: " + e.msg());
  }
  if (n.vlan < 0 || n.vlan > 4094)
    throw Error(cni::kInternal,
                "invalid VLAN ID " + std::to_string(n.vlan) + " (must be between 0 and 4094)");
  if (n.vlan_trunk) *n.vlan_trunk = CollectVlanTrunk(*cni::Field(j, "vlanTrunk"));

  // MAC precedence: CNI_ARGS < args.cni.mac < runtimeConfig.mac.
  if (!cni_args.empty()) {
    auto a = cni::CniArgs::Parse(cni_args, {"MAC"});
    if (auto m = a.Get("MAC"); m && !m->empty()) n.mac = *m;
  }
  if (!args_mac.empty()) n.mac = args_mac;
  if (!rc_mac.empty()) n.mac = rc_mac;
  if (n.ip_masq && !n.ip_masq_backend.empty() && n.ip_masq_backend != "iptables" &&
      n.ip_masq_backend != "nftables")
    throw Error(cni::kInternal, "unknown ipmasq backend \"" + n.ip_masq_backend + "\"");
  return n;
}

}  // namespace bridge
