// tuning config decoding and sysctl-name checks; see config.h.
#include "config.h"

#include <regex>
#include <set>

#include "cni/args.h"
#include "cni/error.h"
#include "cni/files.h"

namespace tuning {
namespace {

using cni::Decoder;
using cni::Error;
using cni::Json;

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// map[string]string: later keys overwrite earlier ones in place (Go map assignment).
void MergeSysctls(Conf& c, const Decoder& d, std::string_view key) {
  auto v = d.Raw(key);
  if (!v) return;
  if (!v->is_object()) d.Mismatch(key, *v, "map[string]string");
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (it.value().is_null()) continue;
    if (!it.value().is_string()) d.Mismatch(key, it.value(), "string");
    std::string k = it.key(), val = it.value().get<std::string>();
    bool found = false;
    for (auto& [ek, ev] : c.sysctls)
      if (ek == k) ev = val, found = true;
    if (!found) c.sysctls.emplace_back(std::move(k), std::move(val));
  }
}

// path/filepath.Clean of an absolute path: one slash between elements, no "." elements, ".."
// removes the element before it (and stays at the root).
std::string CleanAbs(std::string_view p) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view e = p.substr(i, j - i);
    if (e == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!e.empty() && e != ".") {
      parts.push_back(e);
    }
    i = j + 1;
  }
  std::string out;
  for (auto e : parts) (out += '/') += e;
  return out.empty() ? "/" : out;
}

// The SAX pass of CheckDuplicateSysctls: keys of every object that is the value of a top-level
// "sysctl" key (Go matches the field name ignoring case), collected across all of them.
struct DupScan {
  int depth = 0;
  bool next_is_sysctl = false;  // the last top-level key was "sysctl"
  int sysctl_depth = 0;         // depth of the sysctl object being read, 0 when outside one
  std::set<std::string> seen;
  bool dup = false;

  bool value() {
    next_is_sysctl = false;
    return true;
  }
  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(Json::number_integer_t) { return value(); }
  bool number_unsigned(Json::number_unsigned_t) { return value(); }
  bool number_float(Json::number_float_t, const std::string&) { return value(); }
  bool string(std::string&) { return value(); }
  bool binary(Json::binary_t&) { return value(); }
  bool start_object(std::size_t) {
    ++depth;
    if (depth == 2 && next_is_sysctl) sysctl_depth = 2;
    next_is_sysctl = false;
    return true;
  }
  bool end_object() {
    if (depth == sysctl_depth) sysctl_depth = 0;
    --depth;
    return true;
  }
  bool start_array(std::size_t) {
    ++depth;
    next_is_sysctl = false;
    return true;
  }
  bool end_array() {
    --depth;
    return true;
  }
  bool key(std::string& k) {
    if (depth == 1) next_is_sysctl = EqualFold(k, "sysctl");
    if (sysctl_depth != 0 && depth == sysctl_depth && !seen.insert(k).second) {
      dup = true;
      return false;  // stop: the answer is known
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }
};

}  // namespace

Conf ParseConf(const Json& config, std::string_view cni_args) {
  Conf c;
  std::optional<std::string> rc_mac;
  std::optional<int64_t> rc_mtu;
  try {
    Decoder d(config, "TuningConf");
    if (auto v = d.String("dataDir"); v && !v->empty()) c.data_dir = *v;
    MergeSysctls(c, d, "sysctl");
    c.mac = d.String("mac").value_or("");
    c.promisc = d.Bool("promisc").value_or(false);
    c.mtu = d.Int("mtu").value_or(0);
    c.txqlen = d.Int("txQLen");
    c.allmulti = d.Bool("allmulti");
    if (auto rc = d.Object("runtimeConfig", "struct { Mac string \"json:\\\"mac,omitempty\\\"\" }")) {
      Decoder rd(rc->json(), "", "runtimeConfig");  // an anonymous struct: Go names no type
      if (auto m = rd.String("mac"); m && !m->empty()) rc_mac = *m;
      if (auto m = rd.Int("mtu"); m && *m != 0) rc_mtu = *m;
    }
    // CNI_ARGS MAC < runtimeConfig.mac < args.cni.mac, as the reference's parseConf.
    if (!cni_args.empty()) {
      auto a = cni::CniArgs::Parse(cni_args, {"MAC"});
      if (auto m = a.Get("MAC"); m && !m->empty()) c.mac = *m;
    }
    if (rc_mac) c.mac = *rc_mac;
    if (rc_mtu) c.mtu = *rc_mtu;
    if (auto args = d.Object("args", "struct { A *main.IPAMArgs \"json:\\\"cni\\\"\" }")) {
      if (auto a = args->Object("cni", "main.IPAMArgs")) {
        Decoder ad(a->json(), "IPAMArgs", "args.cni");
        MergeSysctls(c, ad, "sysctl");
        if (auto v = ad.String("mac")) c.mac = *v;
        if (auto v = ad.Bool("promisc")) c.promisc = *v;
        if (auto v = ad.Int("mtu")) c.mtu = *v;
        if (auto v = ad.Bool("allmulti")) c.allmulti = *v;
        if (auto v = ad.Int("txQLen")) c.txqlen = *v;
      }
    }
  } catch (const Error& e) {
    if (e.code() != cni::kDecodingFailure) throw;
    throw Error(cni::kInternal, "failed to load netconf: " + e.msg());
  }
  return c;
}

void CheckDuplicateSysctls(std::string_view stdin_data) {
  DupScan scan;
  Json::sax_parse(stdin_data.begin(), stdin_data.end(), &scan, nlohmann::detail::input_format_t::json, false);
  if (scan.dup) throw Error(cni::kInternal, "duplicated sysctl keys are not allowed");
}

void CheckAllowlist(const Conf& c, const std::string& path) {
  std::optional<std::string> text = cni::ReadFile(path);
  if (!text) return;
  std::vector<std::string> patterns;
  size_t i = 0;
  while (i <= text->size()) {
    size_t j = text->find('\n', i);
    if (j == std::string::npos) j = text->size();
    std::string line = text->substr(i, j - i);
    size_t b = line.find_first_not_of(" \t\r\v\f"), e = line.find_last_not_of(" \t\r\v\f");
    if (b != std::string::npos) patterns.push_back(line.substr(b, e - b + 1));
    i = j + 1;
  }
  std::vector<std::regex> compiled;
  for (const std::string& p : patterns) {
    try {
      compiled.emplace_back(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error(cni::kInternal, "error parsing regexp: " + std::string(e.what()) + ": `" + p + "`");
    }
  }
  for (const auto& [key, value] : c.sysctls) {
    bool match = false;
    for (const std::regex& r : compiled) match = match || std::regex_search(key, r);
    if (!match) {
      std::string list;
      for (const std::string& p : patterns) list += (list.empty() ? "" : " ") + p;
      throw Error(cni::kInternal, "Sysctl " + key + " is not allowed. Only the following sysctls are allowed: [" + list + "]");
    }
  }
}

std::string SysctlPath(std::string_view key, std::string_view ifname) {
  // Dots become slashes before IFNAME is replaced, so an interface name with a dot (a VLAN,
  // "eth0.100") stays one path element (the reference since v1.2.0).
  std::string k(key);
  for (char& ch : k)
    if (ch == '.') ch = '/';
  std::string shown(key);
  if (size_t at = k.find("IFNAME"); at != std::string::npos) k.replace(at, 6, ifname);
  if (size_t at = shown.find("IFNAME"); at != std::string::npos) shown.replace(at, 6, ifname);
  std::string path = CleanAbs("/proc/sys/" + k);
  if (!path.starts_with("/proc/sys/net/"))
    throw Error(cni::kInternal, "invalid net sysctl key: \"" + shown + "\"");
  return path;
}

}  // namespace tuning
