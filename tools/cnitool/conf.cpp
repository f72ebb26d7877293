// Configuration loading as libcni/conf.go does it (see conf.h).
#include "conf.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "cni/encoding.h"
#include "cni/error.h"
#include "cni/files.h"
#include "cni/result.h"

namespace weft::cnitool {
namespace {

using cni::Json;

const std::string kListPrefix = "error parsing configuration list: ";

// Parses a document that Go would unmarshal into map[string]interface{}.
Json ParseObject(std::string_view bytes, const std::string& prefix) {
  Json j;
  try {
    j = cni::ParseJson(bytes);
  } catch (const cni::Error& e) {
    throw ConfigError(prefix + e.msg());
  }
  if (!j.is_object()) {
    throw ConfigError(prefix + "json: cannot unmarshal " + cni::GoJsonType(j) +
                      " into Go value of type map[string]interface {}");
  }
  return j;
}

// version.GreaterThan with the reference's parse errors.
bool GreaterThan(std::string_view a, std::string_view b) {
  return cni::CompareVersions(a, b) > 0;
}

std::string ReadWhole(const std::string& path) {
  try {
    std::optional<std::string> data = cni::ReadFile(path);
    if (!data) throw ConfigError("error reading " + path + ": open " + path + ": no such file or directory");
    return *data;
  } catch (const cni::Error& e) {
    throw ConfigError("error reading " + path + ": " + e.msg());
  }
}

std::string Ext(std::string_view name) {
  size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(name.substr(dot));
}

std::string GoFloat(double d) {
  // Integral values below 1e21 print as integers in Go; others keep nlohmann's shortest form.
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  return Json(d).dump();
}

}  // namespace

std::string GoInterfaceType(const Json& v) {
  if (v.is_string()) return "string";
  if (v.is_number()) return "float64";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "[]interface {}";
  if (v.is_object()) return "map[string]interface {}";
  return "<nil>";
}

Json SortedJson(const Json& v) {
  if (v.is_object()) {
    std::vector<std::pair<std::string, const Json*>> items;
    for (auto it = v.begin(); it != v.end(); ++it) items.emplace_back(it.key(), &it.value());
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    Json out = Json::object();
    for (const auto& [k, val] : items) out[k] = SortedJson(*val);
    return out;
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const Json& e : v) out.push_back(SortedJson(e));
    return out;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) return Json(static_cast<int64_t>(d));
  }
  return v;
}

std::string GoMarshalSorted(const Json& v) {
  Json s = SortedJson(v);
  if (s.is_number_float()) return GoFloat(s.get<double>());
  return cni::Marshal(s);
}

std::vector<std::string> ConfFiles(const std::string& dir, const std::vector<std::string_view>& exts) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return files;
    throw ConfigError("open " + dir + ": " + std::strerror(errno));
  }
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) continue;
    std::string ext = Ext(name);
    if (std::find(exts.begin(), exts.end(), ext) != exts.end()) files.push_back(dir + "/" + name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

PluginConf ParsePluginConf(std::string_view bytes) {
  const std::string prefix = "error parsing configuration: ";
  Json j = ParseObject(bytes, prefix);
  PluginConf p;
  try {
    cni::Decoder dec(j, "PluginConf");
    dec.String("cniVersion");
    p.name = dec.String("name").value_or("");
    p.type = dec.String("type").value_or("");
    if (auto ipam = dec.Object("ipam", "IPAM")) ipam->String("type");
    if (auto caps = dec.Raw("capabilities")) {
      if (!caps->is_object()) dec.Mismatch("capabilities", *caps, "map[string]bool");
      for (auto it = caps->begin(); it != caps->end(); ++it) {
        if (it.value().is_null()) continue;
        if (!it.value().is_boolean()) dec.Mismatch("capabilities", it.value(), "bool");
        p.capabilities[it.key()] = it.value().get<bool>();
      }
    }
  } catch (const cni::Error& e) {
    throw ConfigError(prefix + e.msg());
  }
  if (p.type.empty()) throw ConfigError(prefix + "missing 'type'");
  p.bytes = std::string(bytes);
  return p;
}

NetworkConfigList ParseConfList(std::string_view bytes) {
  Json raw = ParseObject(bytes, kListPrefix);
  NetworkConfigList list;
  list.bytes = std::string(bytes);

  auto name = raw.find("name");
  if (name == raw.end()) throw ConfigError(kListPrefix + "no name");
  if (!name->is_string()) throw ConfigError(kListPrefix + "invalid name type " + GoInterfaceType(*name));
  list.name = name->get<std::string>();

  auto ver = raw.find("cniVersion");
  if (ver != raw.end()) {
    if (!ver->is_string()) throw ConfigError(kListPrefix + "invalid cniVersion type " + GoInterfaceType(*ver));
    list.cni_version = ver->get<std::string>();
  }

  auto vers = raw.find("cniVersions");
  if (vers != raw.end()) {
    // The reference prints the type of its failed conversion here, always "[]interface {}".
    if (!vers->is_array()) throw ConfigError(kListPrefix + "invalid type for cniVersions: []interface {}");
    std::vector<std::string> candidates;
    for (size_t i = 0; i < vers->size(); ++i) {
      const Json& v = (*vers)[i];
      if (!v.is_string()) {
        throw ConfigError(kListPrefix + "invalid type for cniVersions index " + std::to_string(i) + ": " +
                          GoInterfaceType(v));
      }
      std::string s = v.get<std::string>();
      try {
        if (!GreaterThan(s, kCurrentVersion)) candidates.push_back(s);
      } catch (const cni::Error& e) {
        throw ConfigError(kListPrefix + "invalid cniVersions entry " + s + " at index " + std::to_string(i) +
                          ": " + e.msg());
      }
    }
    if (!list.cni_version.empty()) {
      try {
        if (!GreaterThan(list.cni_version, kCurrentVersion)) candidates.push_back(list.cni_version);
      } catch (const cni::Error& e) {
        throw ConfigError(kListPrefix + "invalid cniVersion " + list.cni_version + ": " + e.msg());
      }
    }
    if (!candidates.empty()) {
      list.cni_version = *std::max_element(candidates.begin(), candidates.end(),
                                           [](const std::string& a, const std::string& b) { return GreaterThan(b, a); });
    }
  }

  auto read_bool = [&](const char* key) {
    auto it = raw.find(key);
    if (it == raw.end()) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (!it->is_string()) {
      throw ConfigError(kListPrefix + "invalid type " + GoInterfaceType(*it) + " for " + key);
    }
    std::string s = it->get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (s == "true") return true;
    if (s == "false") return false;
    throw ConfigError(kListPrefix + "invalid value " + GoQuote(s) + " for " + key);
  };
  list.disable_check = read_bool("disableCheck");
  list.disable_gc = read_bool("disableGC");
  list.load_only_inlined_plugins = read_bool("loadOnlyInlinedPlugins");

  auto plugins = raw.find("plugins");
  if (plugins == raw.end()) {
    if (list.load_only_inlined_plugins) {
      throw ConfigError(kListPrefix + "`loadOnlyInlinedPlugins` is true, and no 'plugins' key");
    }
    return list;
  }
  if (!plugins->is_array()) throw ConfigError(kListPrefix + "invalid 'plugins' type " + GoInterfaceType(*plugins));
  if (plugins->empty()) throw ConfigError(kListPrefix + "no plugins in list");
  for (size_t i = 0; i < plugins->size(); ++i) {
    try {
      list.plugins.push_back(ParsePluginConf(GoMarshalSorted((*plugins)[i])));
    } catch (const ConfigError& e) {
      throw ConfigError("failed to parse plugin config " + std::to_string(i) + ": " + e.what());
    }
  }
  return list;
}

NetworkConfigList LoadConfListFile(const std::string& path) {
  NetworkConfigList list = ParseConfList(ReadWhole(path));
  if (!list.load_only_inlined_plugins) {
    std::string dir = path.substr(0, path.rfind('/'));
    std::string plugin_dir = dir + "/" + list.name;
    std::vector<std::string> files;
    try {
      files = ConfFiles(plugin_dir, {".conf"});
    } catch (const ConfigError& e) {
      throw ConfigError("failed to read plugin config files in " + plugin_dir + ": " + e.what());
    }
    for (const std::string& f : files) list.plugins.push_back(ParsePluginConf(ReadWhole(f)));
  }
  if (list.plugins.empty()) throw ConfigError("no plugin configs found");
  return list;
}

NetworkConfigList LoadNetworkConf(const std::string& dir, std::string_view name) {
  std::vector<std::string> lists = ConfFiles(dir, {".conflist"});
  for (const std::string& f : lists) {
    NetworkConfigList list = LoadConfListFile(f);
    if (list.name == name) return list;
  }
  // Deprecated single-plugin files, up-converted to a list.
  std::vector<std::string> singles = ConfFiles(dir, {".conf", ".json"});
  if (singles.empty()) {
    if (!lists.empty()) throw ConfigError("no net configuration with name \"" + std::string(name) + "\" in " + dir);
    throw ConfigError("no net configurations found in " + dir);
  }
  for (const std::string& f : singles) {
    std::string bytes = ReadWhole(f);
    PluginConf p = ParsePluginConf(bytes);
    if (p.name != name) continue;
    Json conf = cni::ParseJson(bytes);
    cni::Decoder dec(conf, "PluginConf");
    Json up = Json::object();
    up["cniVersion"] = dec.String("cniVersion").value_or("");
    up["name"] = p.name;
    up["plugins"] = Json::array({conf});
    return ParseConfList(GoMarshalSorted(up));
  }
  throw ConfigError("no net configuration with name \"" + std::string(name) + "\" in " + dir);
}

}  // namespace weft::cnitool
