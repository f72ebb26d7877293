// cnitool: run a network configuration list against a network namespace by hand, as upstream
// cnitool does (same arguments, environment, container ID and result cache), plus --help for
// every command, `version`, and exit codes: 0 success, 1 the operation failed (a plugin error,
// a missing plugin), 2 a usage or configuration error.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cni/error.h"
#include "cni/skel.h"
#include "env.h"
#include "ops.h"

namespace {

using namespace weft::cnitool;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct Common {
  std::string network;
  std::string netns;
  std::string ifname;
  std::string cache_dir;
};

void AddCommonOptions(CLI::App* cmd, Common& c, bool netns_required) {
  cmd->add_option("network", c.network, "Name of the network (the \"name\" of a conflist in NETCONFPATH)")
      ->required();
  auto* ns = cmd->add_option("netns", c.netns, "Path of the network namespace, e.g. /var/run/netns/blue");
  if (netns_required) ns->required();
  cmd->add_option("-i,--ifname", c.ifname, "Interface name (default: $CNI_IFNAME, else eth0)");
  cmd->add_option("--cache-dir", c.cache_dir,
                  "Result cache directory (default: $WEFT_CNI_CACHE_DIR, else /var/lib/cni)");
}

std::string CacheDir(const Common& c) {
  if (!c.cache_dir.empty()) return c.cache_dir;
  std::string env = Getenv("WEFT_CNI_CACHE_DIR");
  return env.empty() ? std::string(kDefaultCacheDir) : env;
}

std::string NetDir() {
  std::string d = Getenv("NETCONFPATH");
  return d.empty() ? std::string(kDefaultNetDir) : d;
}

CniRunner Runner(const Common& c) { return CniRunner(Getenv("CNI_PATH"), CacheDir(c), cni::ProcessEnv()); }

// setupRuntimeConfig of upstream cnitool.
RuntimeConf Runtime(const Common& c) {
  RuntimeConf rt;
  rt.capability_args = ParseCapArgs(Getenv("CAP_ARGS"));
  rt.args = ParseCniArgsEnv(Getenv("CNI_ARGS"));
  rt.if_name = ChooseIfName(c.ifname, Getenv("CNI_IFNAME"));
  if (!c.netns.empty()) {
    rt.netns = AbsPath(c.netns);
    rt.container_id = ContainerIdForNetns(rt.netns);
  }
  return rt;
}

void PrintVersions(const CniRunner& runner, const std::vector<std::string>& types, const std::string& want,
                   bool& failed) {
  size_t width = 0;
  for (const std::string& t : types) width = std::max(width, t.size());
  for (const std::string& t : types) {
    std::cout << t << std::string(width - t.size() + 2, ' ');
    try {
      PluginVersions v = runner.Versions(t);
      std::string list;
      bool ok = want.empty();
      for (const std::string& s : v.supported) {
        list += (list.empty() ? "" : " ") + s;
        ok = ok || s == want;
      }
      std::cout << list << "  (" << v.path << ")";
      if (!ok) {
        std::cout << "  does not support config version " << want;
        failed = true;
      }
      std::cout << "\n";
    } catch (const cni::Error& e) {
      std::cout << "error: " << e.msg() << "\n";
      failed = true;
    }
  }
}

int Run(int argc, char** argv) {
  CLI::App app{"cnitool: run a CNI network configuration against a network namespace.\n"
               "Environment: NETCONFPATH (default /etc/cni/net.d), CNI_PATH, CNI_ARGS (K=V;K=V),\n"
               "CAP_ARGS (JSON capability args), CNI_IFNAME, WEFT_CNI_CACHE_DIR.\n"
               "Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.",
               "cnitool"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");

  Common c;
  auto* add = app.add_subcommand("add", "Add the network's interface to a network namespace (prints the result)");
  auto* check = app.add_subcommand("check", "Check the interface against the cached ADD result (0.4.0+)");
  auto* del = app.add_subcommand("del", "Delete the interface, with the cached ADD result as prevResult");
  auto* gc = app.add_subcommand("gc", "DEL every cached attachment of the network, then send GC (1.1.0+)");
  auto* status = app.add_subcommand("status", "Ask each plugin of the network whether it is ready (1.1.0+)");
  auto* version = app.add_subcommand("version", "Show the spec versions each plugin supports (exec VERSION)");
  AddCommonOptions(add, c, true);
  AddCommonOptions(check, c, true);
  AddCommonOptions(del, c, true);
  AddCommonOptions(gc, c, false);
  AddCommonOptions(status, c, false);

  std::vector<std::string> valid;
  bool keep_live = false;
  gc->add_option("--valid", valid,
                 "CONTAINERID:IFNAME of an attachment to keep (repeatable); the kept list is sent to the "
                 "plugins as cni.dev/valid-attachments");
  gc->add_flag("--keep-live", keep_live,
               "Keep cached attachments whose network namespace still exists, DEL only the others");

  std::string version_network;
  version->add_option("network", version_network,
                      "Only the plugins of this network, checked against its cniVersion (default: every "
                      "executable in CNI_PATH)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  try {
    if (version->parsed()) {
      std::cout << "cnitool (weft " << WEFT_VERSION << "), CNI spec " << kCurrentVersion << "\n";
      Common none;
      CniRunner runner = Runner(none);
      bool failed = false;
      if (version_network.empty()) {
        PrintVersions(runner, runner.PluginsOnPath(), "", failed);
      } else {
        NetworkConfigList list = LoadNetworkConf(NetDir(), version_network);
        std::cout << "network " << list.name << ", cniVersion " << list.cni_version << "\n";
        std::vector<std::string> types;
        for (const PluginConf& p : list.plugins) types.push_back(p.type);
        PrintVersions(runner, types, list.cni_version.empty() ? "0.1.0" : list.cni_version, failed);
      }
      return failed ? kExitFailed : 0;
    }

    NetworkConfigList list = LoadNetworkConf(NetDir(), c.network);
    RuntimeConf rt = Runtime(c);
    CniRunner runner = Runner(c);
    if (add->parsed()) {
      struct stat st {};
      if (stat(rt.netns.c_str(), &st) != 0) throw ConfigError("network namespace " + rt.netns + " does not exist");
      cni::Result r = runner.AddList(list, rt);
      std::cout << r.Print(r.cni_version) << "\n";
    } else if (check->parsed()) {
      runner.CheckList(list, rt);
    } else if (del->parsed()) {
      runner.DelList(list, rt);
    } else if (gc->parsed()) {
      std::optional<std::vector<Attachment>> keep;
      if (!valid.empty() || keep_live) keep.emplace();
      for (const std::string& v : valid) {
        size_t colon = v.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
          throw ConfigError("--valid wants CONTAINERID:IFNAME, got " + GoQuote(v));
        }
        keep->push_back({v.substr(0, colon), v.substr(colon + 1)});
      }
      if (keep_live) {
        for (const CacheEntry& a : CachedAttachments(runner.cache_dir())) {
          struct stat st {};
          if (a.network_name == list.name && !a.netns.empty() && stat(a.netns.c_str(), &st) == 0) {
            keep->push_back({a.container_id, a.if_name});
          }
        }
      }
      runner.GcList(list, keep);
    } else if (status->parsed()) {
      bool old = true;
      try {
        old = cni::CompareVersions(list.cni_version, "1.1.0") < 0;
      } catch (const cni::Error&) {
      }
      if (old) {
        std::cerr << "cnitool: network " << list.name << " has cniVersion " << list.cni_version
                  << "; STATUS needs 1.1.0, no plugin was asked\n";
      }
      runner.StatusList(list);
    }
    return 0;
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  } catch (const cni::Error& e) {
    std::cerr << (e.details().empty() ? e.msg() : e.msg() + "; " + e.details()) << "\n";
    return kExitFailed;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
