// libcni's list operations (see ops.h).
#include "ops.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "cni/digest.h"
#include "cni/error.h"
#include "cni/invoke.h"

namespace weft::cnitool {
namespace {

using cni::Json;

// Go's error text of a plugin error: "msg; details".
std::string ErrorText(const cni::Error& e) {
  return e.details().empty() ? e.msg() : e.msg() + "; " + e.details();
}

// pluginDescription: type="x" plus name="y" when the plugin conf has its own name.
std::string Describe(const PluginConf& p) {
  std::string out = "type=" + GoQuote(p.type);
  if (!p.name.empty()) out += " name=" + GoQuote(p.name);
  return out;
}

// Runs fn; a failure becomes `plugin <desc> failed (<verb>): <error>` with the plugin's code.
template <typename Fn>
auto Named(const PluginConf& p, std::string_view verb, Fn&& fn) {
  try {
    return fn();
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), "plugin " + Describe(p) + " failed (" + std::string(verb) + "): " + ErrorText(e));
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw cni::Error(cni::kInternal, "plugin " + Describe(p) + " failed (" + std::string(verb) + "): " + e.what());
  }
}

// A copy of `obj` whose top-level keys are in Go map order; values are kept as they are.
Json TopLevelSorted(const Json& obj) {
  std::vector<std::string> keys;
  for (auto it = obj.begin(); it != obj.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  Json out = Json::object();
  for (const std::string& k : keys) out[k] = obj.at(k);
  return out;
}

bool AtLeast(std::string_view version, std::string_view min) {
  return cni::CompareVersions(version, min) >= 0;
}


}  // namespace

std::string BuildOneConfig(std::string_view name, std::string_view cni_version, const PluginConf& plugin,
                           const Json& prev_result, const RuntimeConf* rt) {
  Json conf = SortedJson(cni::ParseJson(plugin.bytes, "unmarshal existing network bytes"));
  conf["name"] = std::string(name);
  conf["cniVersion"] = std::string(cni_version);
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  // The reference marshals a Go map here: keys sorted, prevResult still in its struct order.
  conf = TopLevelSorted(conf);
  if (rt != nullptr && rt->capability_args.is_object()) {
    Json rc = Json::object();
    for (const auto& [cap, enabled] : plugin.capabilities) {
      if (!enabled) continue;
      auto it = rt->capability_args.find(cap);
      if (it != rt->capability_args.end()) rc[cap] = *it;
    }
    if (!rc.empty()) {
      // A second injection round-trips the whole document through a map: everything sorted.
      conf["runtimeConfig"] = rc;
      return GoMarshalSorted(conf);
    }
  }
  return cni::Marshal(conf);
}

std::string InjectConf(const PluginConf& plugin, const Json& values) {
  Json conf = cni::ParseJson(plugin.bytes, "unmarshal existing network bytes");
  for (auto it = values.begin(); it != values.end(); ++it) conf[it.key()] = it.value();
  return GoMarshalSorted(conf);
}

std::string ContainerIdForNetns(std::string_view abs_netns) {
  return "cnitool-" + cni::Sha512Hex(abs_netns).substr(0, 20);  // the first 10 bytes
}

std::string AbsPath(std::string_view path) {
  std::string full(path);
  if (full.empty() || full[0] != '/') {
    std::string cwd(4096, '\0');
    if (getcwd(cwd.data(), cwd.size()) == nullptr) throw cni::Error::Errno(errno, "getcwd");
    cwd.resize(cwd.find('\0'));
    full = cwd + "/" + full;
  }
  // filepath.Clean, for a rooted path.
  std::vector<std::string_view> parts;
  std::string_view rest = full;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(seg);
  }
  std::string out;
  for (std::string_view seg : parts) {
    out += "/";
    out += seg;
  }
  return out.empty() ? "/" : out;
}

CniRunner::CniRunner(std::string cni_path, std::string cache_dir, cni::Env base_env)
    : cni_path_(std::move(cni_path)), cache_dir_(std::move(cache_dir)), base_env_(std::move(base_env)) {}

std::string CniRunner::Find(std::string_view type) const {
  if (cni::SplitPath(cni_path_).empty()) {
    throw cni::Error(cni::kInternal, "failed to find plugin " + GoQuote(type) +
                                         ": CNI_PATH is empty; set it to the directories holding the CNI "
                                         "plugins, e.g. CNI_PATH=/opt/cni/bin");
  }
  try {
    return cni::FindInPath(type, cni_path_);
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), e.msg() + " (no executable " + GoQuote(type) + " in CNI_PATH=" + cni_path_ +
                                   "; install the plugin there or add its directory to CNI_PATH)");
  }
}

cni::Env CniRunner::EnvFor(std::string_view command, const RuntimeConf& rt) const {
  cni::Env env = base_env_;
  std::string args;
  for (const auto& [k, v] : rt.args) args += (args.empty() ? "" : ";") + k + "=" + v;
  env["CNI_COMMAND"] = std::string(command);
  env["CNI_CONTAINERID"] = rt.container_id;
  env["CNI_NETNS"] = rt.netns;
  env["CNI_ARGS"] = args;
  env["CNI_IFNAME"] = rt.if_name;
  env["CNI_PATH"] = cni_path_;
  return env;
}

Json CniRunner::CachedResult(std::string_view network, std::string_view version, const RuntimeConf& rt) const {
  std::optional<std::string> data;
  try {
    data = ReadCacheFile(cache_dir_, network, rt.container_id, rt.if_name);
  } catch (const cni::Error&) {
    return nullptr;  // unreadable: like the reference, as if there were no cached result
  }
  if (!data) return nullptr;
  Json raw;
  if (std::optional<CacheEntry> e = DecodeCache(*data)) {
    raw = e->result;
  } else {
    raw = cni::ParseJson(*data);  // the legacy format: the bare result
  }
  cni::Result r = cni::Result::FromJson(raw, "0.1.0");
  try {
    return r.ToJson(version);
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), "failed to convert cached result to config version " + GoQuote(version) + ": " +
                                   ErrorText(e));
  }
}

cni::Result CniRunner::AddList(const NetworkConfigList& list, const RuntimeConf& rt) const {
  std::optional<cni::Result> result;
  for (const PluginConf& plugin : list.plugins) {
    result = Named(plugin, "add", [&] {
      std::string path = Find(plugin.type);
      cni::ValidateContainerID(rt.container_id);
      cni::ValidateNetworkName(list.name);
      cni::ValidateInterfaceName(rt.if_name);
      Json prev = result ? result->ToJson(result->cni_version) : Json();
      std::string conf = BuildOneConfig(list.name, list.cni_version, plugin, prev, &rt);
      std::string out = cni::ExecPlugin(path, EnvFor("ADD", rt), conf);
      return cni::Result::FromJson(cni::ParseJson(out), "0.1.0");
    });
  }
  CacheEntry entry;
  entry.container_id = rt.container_id;
  entry.config = list.bytes;
  entry.if_name = rt.if_name;
  entry.network_name = list.name;
  entry.netns = rt.netns;
  entry.cni_args = rt.args;
  entry.capability_args = rt.capability_args;
  entry.result = result->ToJson(result->cni_version);
  try {
    WriteCache(cache_dir_, entry);
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), "failed to set network " + GoQuote(list.name) + " cached result: " + ErrorText(e));
  }
  return *result;
}

void CniRunner::CheckList(const NetworkConfigList& list, const RuntimeConf& rt) const {
  if (!AtLeast(list.cni_version, "0.4.0")) {
    throw cni::Error(cni::kIncompatibleVersion,
                     "configuration version " + GoQuote(list.cni_version) + " does not support the CHECK command");
  }
  if (list.disable_check) return;
  Json cached;
  try {
    cached = CachedResult(list.name, list.cni_version, rt);
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), "failed to get network " + GoQuote(list.name) + " cached result: " + ErrorText(e));
  }
  for (const PluginConf& plugin : list.plugins) {
    Named(plugin, "check", [&] {
      std::string path = Find(plugin.type);
      cni::ExecPlugin(path, EnvFor("CHECK", rt), BuildOneConfig(list.name, list.cni_version, plugin, cached, &rt));
    });
  }
}

void CniRunner::DelList(const NetworkConfigList& list, const RuntimeConf& rt) const {
  Json cached;
  if (AtLeast(list.cni_version, "0.4.0")) {
    try {
      cached = CachedResult(list.name, list.cni_version, rt);
    } catch (const cni::Error&) {
      // An unreadable or unconvertible entry must not block teardown (cni#701): drop it.
      DeleteCache(cache_dir_, list.name, rt.container_id, rt.if_name);
      cached = nullptr;
    }
  }
  for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
    const PluginConf& plugin = *it;
    Named(plugin, "delete", [&] {
      std::string path = Find(plugin.type);
      cni::ExecPlugin(path, EnvFor("DEL", rt), BuildOneConfig(list.name, list.cni_version, plugin, cached, &rt));
    });
  }
  // The reference keeps the entry of a pre-0.4.0 list forever; the attachment is gone, so is it.
  DeleteCache(cache_dir_, list.name, rt.container_id, rt.if_name);
}

void CniRunner::GcList(const NetworkConfigList& list, const std::optional<std::vector<Attachment>>& valid) const {
  if (list.disable_gc) return;
  std::vector<std::string> errors;
  unsigned code = 0;
  auto record = [&](const cni::Error& e, const std::string& text) {
    if (errors.empty()) code = e.code();
    errors.push_back(text);
  };
  for (const CacheEntry& a : CachedAttachments(cache_dir_)) {
    if (a.network_name != list.name) continue;
    Attachment key{a.container_id, a.if_name};
    if (valid && std::find(valid->begin(), valid->end(), key) != valid->end()) continue;
    RuntimeConf rt{a.container_id, a.netns, a.if_name, a.cni_args,
                   a.capability_args.is_object() ? a.capability_args : Json::object()};
    try {
      DelList(list, rt);
    } catch (const cni::Error& e) {
      record(e, "failed to delete stale attachment " + a.container_id + " " + a.if_name + ": " + ErrorText(e));
    }
  }
  bool gc_supported = false;
  try {
    gc_supported = AtLeast(list.cni_version, "1.1.0");
  } catch (const cni::Error&) {
  }
  if (gc_supported) {
    Json inject = Json::object();
    inject["name"] = list.name;
    inject["cniVersion"] = list.cni_version;
    if (valid) {
      Json arr = Json::array();
      for (const Attachment& a : *valid) arr.push_back(Json{{"containerID", a.container_id}, {"ifname", a.if_name}});
      inject["cni.dev/valid-attachments"] = arr;
      inject["cni.dev/attachments"] = arr;  // the key's name in the 1.1.0 spec text (cni#1101)
    }
    for (const PluginConf& plugin : list.plugins) {
      try {
        std::string path = Find(plugin.type);
        cni::ExecPlugin(path, EnvFor("GC", RuntimeConf{}), InjectConf(plugin, inject));
      } catch (const cni::Error& e) {
        record(e, "failed to GC plugin " + plugin.type + ": " + ErrorText(e));
      }
    }
  }
  if (errors.empty()) return;
  std::string joined;
  for (const std::string& e : errors) joined += (joined.empty() ? "" : "\n") + e;
  throw cni::Error(code, joined);
}

void CniRunner::StatusList(const NetworkConfigList& list) const {
  bool supported = false;
  try {
    supported = AtLeast(list.cni_version, "1.1.0");
  } catch (const cni::Error&) {
    // The reference ignores an unparsable version here and asks nobody.
  }
  if (!supported) return;
  Json inject = Json::object();
  inject["name"] = list.name;
  inject["cniVersion"] = list.cni_version;
  for (const PluginConf& plugin : list.plugins) {
    Named(plugin, "status", [&] {
      std::string path = Find(plugin.type);
      cni::ExecPlugin(path, EnvFor("STATUS", RuntimeConf{}), InjectConf(plugin, inject));
    });
  }
}

PluginVersions CniRunner::Versions(std::string_view type) const {
  PluginVersions v;
  v.path = Find(type);
  std::string out = cni::ExecPlugin(v.path, EnvFor("VERSION", RuntimeConf{}),
                                    "{\"cniVersion\":\"" + std::string(kCurrentVersion) + "\"}");
  Json j = cni::ParseJson(out, "decoding version info");
  cni::Decoder dec(j, "PluginInfo");
  v.cni_version = dec.String("cniVersion").value_or("");
  if (auto s = dec.StringList("supportedVersions")) v.supported = *s;
  if (v.supported.empty()) v.supported.push_back(v.cni_version.empty() ? "0.1.0" : v.cni_version);
  return v;
}

std::vector<std::string> CniRunner::PluginsOnPath() const {
  std::set<std::string> names;
  for (const std::string& dir : cni::SplitPath(cni_path_)) {
    DIR* d = opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      std::string full = dir + "/" + name;
      if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) && access(full.c_str(), X_OK) == 0) {
        names.insert(name);
      }
    }
    closedir(d);
  }
  return {names.begin(), names.end()};
}

}  // namespace weft::cnitool
