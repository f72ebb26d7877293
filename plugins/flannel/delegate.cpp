// Netconf loading and delegate construction: see delegate.h.
#include "delegate.h"

#include "cni/error.h"
#include "cni/result.h"
#include "go_json.h"

namespace flannel {
namespace {

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// A map[string]interface{} struct field as Go decodes it: every key matching `key` without
// regard to case, in document order; null resets the map to nil, an object adds its keys to
// the map (a later value for the same key replaces the earlier one), anything else is a type
// error.
std::optional<cni::Json> MapField(const cni::Json& config, std::string_view key) {
  std::optional<cni::Json> out;
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (!EqualFold(it.key(), key)) continue;
    const cni::Json& v = it.value();
    if (v.is_null()) {
      out.reset();
    } else if (v.is_object()) {
      if (!out) out = cni::Json::object();
      for (auto kv = v.begin(); kv != v.end(); ++kv) (*out)[kv.key()] = kv.value();
    } else {
      throw cni::Error(cni::kInternal, "json: cannot unmarshal " + cni::GoJsonType(v) + " into Go struct field NetConf." +
                                           std::string(key) + " of type map[string]interface {}");
    }
  }
  return out;
}

bool Has(const cni::Json& m, const char* key) { return m.contains(key); }

// types.Route as the reference re-encodes it: fields in declaration order, omitempty ints
// dropped at 0, the pointer fields (table, scope) kept whenever set.
std::string EncodeRoute(const cni::Route& r) {
  std::string s = "{\"dst\":" + GoString(r.dst.String());
  if (r.gw) s += ",\"gw\":" + GoString(r.gw->String());
  if (r.mtu && *r.mtu != 0) s += ",\"mtu\":" + std::to_string(*r.mtu);
  if (r.advmss && *r.advmss != 0) s += ",\"advmss\":" + std::to_string(*r.advmss);
  if (r.priority && *r.priority != 0) s += ",\"priority\":" + std::to_string(*r.priority);
  if (r.table) s += ",\"table\":" + std::to_string(*r.table);
  if (r.scope) s += ",\"scope\":" + std::to_string(*r.scope);
  return s + "}";
}

// getIPAMRoutes: the user's ipam.routes decoded as []types.Route.
std::vector<cni::Route> UserRoutes(const NetConf& n) {
  std::vector<cni::Route> routes;
  if (!n.ipam || !n.ipam->contains("routes")) return routes;
  const cni::Json& v = n.ipam->at("routes");
  try {
    if (v.is_null()) return routes;
    if (!v.is_array()) {
      throw cni::Error(cni::kInternal, "json: cannot unmarshal " + cni::GoJsonType(v) + " into Go value of type []types.Route");
    }
    for (const cni::Json& r : v) routes.push_back(cni::Route::FromJson(r));
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInternal, "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse ipam.routes: " + e.msg());
  }
  return routes;
}

cni::Json DelegateIpam(const NetConf& n, const SubnetEnv& env) {
  cni::Json ipam = n.ipam ? *n.ipam : cni::Json::object();
  if (!Has(ipam, "type")) ipam["type"] = "host-local";
  cni::Json ranges = cni::Json::array();
  if (env.subnet) ranges.push_back(cni::Json::array({cni::Json{{"subnet", env.subnet->String()}}}));
  if (env.ipv6_subnet) ranges.push_back(cni::Json::array({cni::Json{{"subnet", env.ipv6_subnet->String()}}}));
  // A nil Go slice marshals as null: no subnet at all cannot pass the missing check, so this
  // stays an array in practice.
  ipam["ranges"] = ranges.empty() ? cni::Json(nullptr) : ranges;
  std::string routes = "[";
  auto add = [&routes](const std::string& encoded) { routes += (routes.size() > 1 ? "," : "") + encoded; };
  for (const cni::Route& r : UserRoutes(n)) add(EncodeRoute(r));
  for (const cni::IPNet& nw : env.networks) add(EncodeRoute(cni::Route{nw, {}, {}, {}, {}, {}, {}}));
  for (const cni::IPNet& nw : env.ipv6_networks) add(EncodeRoute(cni::Route{nw, {}, {}, {}, {}, {}, {}}));
  ipam["routes"] = PreEncoded(routes + "]");
  return ipam;
}

}  // namespace

NetConf LoadNetConf(const cni::Json& config) {
  NetConf n;
  try {
    cni::Decoder d(config, "NetConf");
    n.cni_version = d.String("cniVersion").value_or("");
    n.name = d.String("name").value_or("");
    d.String("type");
    if (auto s = d.String("subnetFile"); s && !s->empty()) n.subnet_file = *s;
    if (auto s = d.String("dataDir"); s && !s->empty()) n.data_dir = *s;
    n.delegate = MapField(config, "delegate");
    n.ipam = MapField(config, "ipam");
    n.runtime_config = MapField(config, "runtimeConfig");
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInternal, "failed to load netconf: " + e.msg());
  }
  return n;
}

cni::Json BuildDelegate(const NetConf& n, const SubnetEnv& env) {
  cni::Json d = n.delegate ? *n.delegate : cni::Json::object();
  if (n.delegate) {
    if (Has(d, "type") && !d["type"].is_string()) {
      throw cni::Error(cni::kInternal, "'delegate' dictionary, if present, must have (string) 'type' field");
    }
    if (Has(d, "name")) throw cni::Error(cni::kInternal, "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
    if (Has(d, "ipam")) throw cni::Error(cni::kInternal, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
  }
  if (n.runtime_config) d["runtimeConfig"] = *n.runtime_config;
  d["name"] = n.name;
  if (!Has(d, "type")) d["type"] = "bridge";
  if (!Has(d, "ipMasq")) d["ipMasq"] = !*env.ipmasq;
  if (!Has(d, "mtu")) d["mtu"] = *env.mtu;
  if (d["type"] == "bridge" && !Has(d, "isGateway")) d["isGateway"] = true;
  if (!n.cni_version.empty()) d["cniVersion"] = n.cni_version;
  d["ipam"] = DelegateIpam(n, env);
  return d;
}

std::string MarshalDelegate(const cni::Json& delegate) { return GoMarshal(delegate); }

}  // namespace flannel
