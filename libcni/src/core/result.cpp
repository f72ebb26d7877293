// The CNI result model and its per-version JSON (see result.h). Output follows the Go structs of
// containernetworking/cni as built into the reference 1.1.x plugins: key order is struct field
// order, omitempty rules apply per field, and "dns" is always printed (a non-pointer struct).
// Conversions reproduce pkg/types/{020,040,100}: 0.3.x/0.4.0 add "version" and keep only
// name/mac/sandbox of interfaces but all route fields; 0.1.0/0.2.0 keep the first IPv4 and the
// first IPv6 address, routes with dst/gw only for a family that has an address.
#include "cni/result.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "cni/error.h"

namespace cni {
namespace {

enum class Shape { k02, k04, k1 };

Shape ShapeOf(std::string_view v) {
  if (v == "0.1.0" || v == "0.2.0") return Shape::k02;
  if (v == "0.3.0" || v == "0.3.1" || v == "0.4.0") return Shape::k04;
  return Shape::k1;
}

IP ParseIPField(const Decoder& d, std::string_view key) {
  auto s = d.String(key);
  if (!s || s->empty()) return IP();
  auto ip = IP::Parse(*s);
  if (!ip) throw Error(kDecodingFailure, "invalid IP address: " + *s);
  return *ip;
}

std::optional<IP> OptIP(const Decoder& d, std::string_view key) {
  IP ip = ParseIPField(d, key);
  if (!ip.valid()) return std::nullopt;
  return ip;
}

IPNet ParseCIDRField(const Decoder& d, std::string_view key) {
  auto s = d.String(key);
  if (!s) return IPNet{};
  auto n = IPNet::Parse(*s);
  if (!n) throw Error(kDecodingFailure, "invalid CIDR address: " + *s);
  return *n;
}

std::optional<int> NonZero(const Decoder& d, std::string_view key) {
  auto v = d.Int(key);
  if (!v || *v == 0) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<int> OptInt(const Decoder& d, std::string_view key) {
  auto v = d.Int(key);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

std::vector<Json> Objects(const Decoder& d, std::string_view key, std::string_view go_type) {
  std::vector<Json> out;
  auto v = d.Raw(key);
  if (!v) return out;
  if (!v->is_array()) d.Mismatch(key, *v, go_type);
  for (const Json& e : *v) {
    if (e.is_null()) {
      out.push_back(Json::object());
      continue;
    }
    if (!e.is_object()) d.Mismatch(key, e, go_type);
    out.push_back(e);
  }
  return out;
}

Json RouteJson(const Route& r, bool dst_gw_only) {
  Json j = Json::object();
  j["dst"] = r.dst.String();
  if (r.gw && r.gw->valid()) j["gw"] = r.gw->String();
  if (dst_gw_only) return j;
  if (r.mtu && *r.mtu) j["mtu"] = *r.mtu;
  if (r.advmss && *r.advmss) j["advmss"] = *r.advmss;
  if (r.priority && *r.priority) j["priority"] = *r.priority;
  if (r.table) j["table"] = *r.table;
  if (r.scope) j["scope"] = *r.scope;
  return j;
}

Route ParseRoute(const Decoder& d, bool dst_gw_only) {
  Route r;
  r.dst = ParseCIDRField(d, "dst");
  r.gw = OptIP(d, "gw");
  if (dst_gw_only) return r;
  r.mtu = NonZero(d, "mtu");
  r.advmss = NonZero(d, "advmss");
  r.priority = NonZero(d, "priority");
  r.table = OptInt(d, "table");
  r.scope = OptInt(d, "scope");
  return r;
}

void Put(Json& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}

}  // namespace

Route Route::FromJson(const Json& j) { return ParseRoute(Decoder(j, "route"), false); }

Json Route::ToJson() const { return RouteJson(*this, false); }

DNS DNS::FromJson(const Json& j) {
  Decoder d(j, "DNS");
  DNS dns;
  dns.nameservers = d.StringList("nameservers").value_or(std::vector<std::string>{});
  dns.domain = d.String("domain").value_or("");
  dns.search = d.StringList("search").value_or(std::vector<std::string>{});
  dns.options = d.StringList("options").value_or(std::vector<std::string>{});
  return dns;
}

Json DNS::ToJson() const {
  Json j = Json::object();
  Put(j, "nameservers", nameservers);
  if (!domain.empty()) j["domain"] = domain;
  Put(j, "search", search);
  Put(j, "options", options);
  return j;
}

Result Result::FromJson(const Json& j, std::string_view version) {
  if (!j.is_object()) throw Error(kDecodingFailure, "json: cannot unmarshal " + GoJsonType(j) + " into Go value of type Result");
  Decoder d(j, "Result");
  std::string v = d.String("cniVersion").value_or("");
  if (v.empty()) v = std::string(version);
  if (v.empty()) v = "0.1.0";
  if (!IsSupportedVersion(v)) throw Error(kIncompatibleVersion, "unsupported CNI result version \"" + v + "\"");

  Result r;
  r.cni_version = v;
  if (auto dns = d.Raw("dns")) {
    if (!dns->is_object()) d.Mismatch("dns", *dns, "types.DNS");
    r.dns = DNS::FromJson(*dns);
  }
  Shape shape = ShapeOf(v);
  if (shape == Shape::k02) {
    // ip4 then ip6, each with its routes (which keep every field, as 040 convertFrom02x does).
    for (const char* key : {"ip4", "ip6"}) {
      auto sub = d.Object(key, "types020.IPConfig");
      if (!sub) continue;
      IPConfig c;
      c.address = ParseCIDRField(*sub, "ip");
      c.gateway = OptIP(*sub, "gateway");
      r.ips.push_back(c);
      for (const Json& rj : Objects(*sub, "routes", "types.Route"))
        r.routes.push_back(ParseRoute(Decoder(rj, "route"), false));
    }
    return r;
  }
  for (const Json& ij : Objects(d, "interfaces", "Interface")) {
    Decoder id(ij, "Interface");
    Interface i;
    i.name = id.String("name").value_or("");
    i.mac = id.String("mac").value_or("");
    i.sandbox = id.String("sandbox").value_or("");
    if (shape == Shape::k1) {
      i.mtu = NonZero(id, "mtu");
      i.socket_path = id.String("socketPath").value_or("");
      i.pci_id = id.String("pciID").value_or("");
    }
    r.interfaces.push_back(std::move(i));
  }
  for (const Json& pj : Objects(d, "ips", "ipConfig")) {
    Decoder pd(pj, "ipConfig");
    if (shape == Shape::k04) pd.String("version");  // type-checked, then derived from the address
    IPConfig c;
    c.interface = OptInt(pd, "interface");
    c.address = ParseCIDRField(pd, "address");
    c.gateway = OptIP(pd, "gateway");
    r.ips.push_back(c);
  }
  for (const Json& rj : Objects(d, "routes", "types.Route")) r.routes.push_back(ParseRoute(Decoder(rj, "route"), false));
  return r;
}

Json Result::ToJson(std::string_view version) const {
  std::string v = version.empty() ? "0.1.0" : std::string(version);
  if (!IsSupportedVersion(v)) {
    throw Error(kIncompatibleVersion, "no converter for CNI result version " +
                                          (cni_version.empty() ? std::string("1.1.0") : cni_version) + " to " + v);
  }
  Json j = Json::object();
  j["cniVersion"] = v;
  Shape shape = ShapeOf(v);
  if (shape == Shape::k02) {
    const IPConfig *v4 = nullptr, *v6 = nullptr;
    for (const IPConfig& c : ips) {
      if (c.address.ip.is4() && !v4) v4 = &c;
      if (!c.address.ip.is4() && !v6) v6 = &c;
      if (v4 && v6) break;
    }
    if (!v4 && !v6) throw Error(kInternal, "cannot convert: no valid IP addresses");
    for (const IPConfig* c : {v4, v6}) {
      if (!c) continue;
      bool four = c == v4;
      Json ipj = Json::object();
      ipj["ip"] = c->address.String();
      if (c->gateway && c->gateway->valid()) ipj["gateway"] = c->gateway->String();
      Json rts = Json::array();
      for (const Route& r : this->routes)
        if (r.dst.ip.is4() == four) rts.push_back(RouteJson(r, true));
      if (!rts.empty()) ipj["routes"] = rts;
      j[four ? "ip4" : "ip6"] = ipj;
    }
    j["dns"] = dns.ToJson();
    return j;
  }
  if (!interfaces.empty()) {
    Json arr = Json::array();
    for (const Interface& i : interfaces) {
      Json ij = Json::object();
      ij["name"] = i.name;
      if (!i.mac.empty()) ij["mac"] = i.mac;
      if (shape == Shape::k1 && i.mtu && *i.mtu) ij["mtu"] = *i.mtu;
      if (!i.sandbox.empty()) ij["sandbox"] = i.sandbox;
      if (shape == Shape::k1 && !i.socket_path.empty()) ij["socketPath"] = i.socket_path;
      if (shape == Shape::k1 && !i.pci_id.empty()) ij["pciID"] = i.pci_id;
      arr.push_back(ij);
    }
    j["interfaces"] = arr;
  }
  if (!ips.empty()) {
    Json arr = Json::array();
    for (const IPConfig& c : ips) {
      Json pj = Json::object();
      if (shape == Shape::k04) pj["version"] = c.address.ip.is4() ? "4" : "6";
      if (c.interface) pj["interface"] = *c.interface;
      pj["address"] = c.address.String();
      if (c.gateway && c.gateway->valid()) pj["gateway"] = c.gateway->String();
      arr.push_back(pj);
    }
    j["ips"] = arr;
  }
  if (!routes.empty()) {
    Json arr = Json::array();
    for (const Route& r : routes) arr.push_back(RouteJson(r, false));
    j["routes"] = arr;
  }
  j["dns"] = dns.ToJson();
  return j;
}

std::string Result::Print(std::string_view version) const { return MarshalIndent(ToJson(version)); }

const std::vector<std::string>& SupportedVersions() {
  static const std::vector<std::string> v = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return v;
}

bool IsSupportedVersion(std::string_view v) {
  const auto& all = SupportedVersions();
  return std::find(all.begin(), all.end(), v) != all.end();
}

namespace {
// strconv.Atoi: optional sign, decimal digits, 64-bit range.
long long Atoi(const std::string& part, const char* which) {
  auto fail = [&](const char* why) {
    throw Error(kDecodingFailure, std::string("failed to convert ") + which + " version part \"" + part +
                                      "\": strconv.Atoi: parsing \"" + part + "\": " + why);
  };
  size_t i = (!part.empty() && (part[0] == '+' || part[0] == '-')) ? 1 : 0;
  if (i == part.size()) fail("invalid syntax");
  for (size_t k = i; k < part.size(); ++k)
    if (part[k] < '0' || part[k] > '9') fail("invalid syntax");
  errno = 0;
  long long n = std::strtoll(part.c_str(), nullptr, 10);
  if (errno == ERANGE) fail("value out of range");
  return n;
}

// pkg/version.ParseVersion: "" is 0.1.0, at most three parts, missing parts are 0.
std::array<long long, 3> ParseVersion(std::string_view v) {
  if (v.empty()) return {0, 1, 0};
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = v.find('.', start);
    parts.emplace_back(v.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() >= 4) throw Error(kDecodingFailure, "invalid version \"" + std::string(v) + "\": too many parts");
  std::array<long long, 3> out{0, 0, 0};
  const char* names[] = {"major", "minor", "micro"};
  for (size_t k = 0; k < parts.size(); ++k) out[k] = Atoi(parts[k], names[k]);
  return out;
}
}  // namespace

int CompareVersions(std::string_view a, std::string_view b) {
  auto x = ParseVersion(a), y = ParseVersion(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

}  // namespace cni
