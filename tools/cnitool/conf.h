// Network configuration loading with libcni's rules (libcni/conf.go), so that `cnitool add net`
// picks exactly the list a runtime would: *.conflist files of the directory in sorted order, the
// first whose name matches, plus <dir>/<name>/*.conf appended unless loadOnlyInlinedPlugins; then
// the deprecated *.conf/*.json single-plugin files, up-converted to a one-plugin list. The list
// version is the highest of cniVersion and cniVersions not newer than 1.1.0. Error texts are the
// reference's. Problems with the configuration throw ConfigError (an operator error, exit 2).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cni/encoding.h"
#include "cni/json.h"

namespace weft::cnitool {

/// A mistake in the operator's input (configuration, arguments, environment): exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One plugin of a list (libcni PluginConfig): its JSON as bytes plus the fields libcni reads.
struct PluginConf {
  std::string type;
  std::string name;                         // the plugin's own "name" key (usually empty)
  std::map<std::string, bool> capabilities;
  std::string bytes;                        // compact JSON the plugin is built from
};

struct NetworkConfigList {
  std::string name;
  std::string cni_version;  // the selected version ("" when the file names none)
  bool disable_check = false;
  bool disable_gc = false;
  bool load_only_inlined_plugins = false;
  std::vector<PluginConf> plugins;
  std::string bytes;  // the list as loaded (what the result cache stores, base64)
};

/// The newest spec version this tool implements.
inline constexpr std::string_view kCurrentVersion = "1.1.0";

/// NetworkPluginConfFromBytes: parses one plugin conf; `type` is required.
PluginConf ParsePluginConf(std::string_view bytes);

/// NetworkConfFromBytes: parses a conflist (plugins from the file only).
NetworkConfigList ParseConfList(std::string_view bytes);

/// NetworkConfFromFile: ParseConfList plus <dir>/<name>/*.conf, at least one plugin.
NetworkConfigList LoadConfListFile(const std::string& path);

/// LoadNetworkConf(dir, name): the list named `name` in `dir` (see the file comment).
NetworkConfigList LoadNetworkConf(const std::string& dir, std::string_view name);

/// Files in `dir` (not directories) whose extension is one of `exts`, sorted; none when `dir`
/// does not exist.
std::vector<std::string> ConfFiles(const std::string& dir, const std::vector<std::string_view>& exts);

/// Go's json.Marshal of the value decoded into interface{}: every object's keys sorted, integral
/// floats printed as integers. Compact.
std::string GoMarshalSorted(const cni::Json& v);
/// The same value with every object's keys sorted (Go map order).
cni::Json SortedJson(const cni::Json& v);

/// Go's %T of a JSON value decoded into interface{}: "string", "float64", "bool", "<nil>",
/// "[]interface {}", "map[string]interface {}".
std::string GoInterfaceType(const cni::Json& v);

/// Go's %q of a string.
using cni::GoQuote;  // cni/encoding.h

}  // namespace weft::cnitool
