// The flannel meta-plugin's commands: see flannel.h.
#include "flannel.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iostream>
#include <set>

#include "cni/error.h"
#include "cni/files.h"
#include "cni/invoke.h"
#include "delegate.h"
#include "go_json.h"
#include "subnet_env.h"

namespace flannel {
namespace {

// A crashed writer's temp file (see cni::WriteFileAtomic) is removed by GC after this long.
constexpr time_t kStaleTempSeconds = 3600;

// err.Error() of a Go *types.Error: the message, then "; details" when there are details.
std::string GoText(const cni::Error& e) { return e.details().empty() ? e.msg() : e.msg() + "; " + e.details(); }

SubnetEnv LoadEnv(const NetConf& n) {
  try {
    return LoadSubnetEnv(n.subnet_file);
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), "failed to load flannel 'subnet.env' file: " + e.msg() + ". Check the flannel pod log for this node.");
  }
}

std::string SavedPath(const NetConf& n, const std::string& container_id) { return n.data_dir + "/" + container_id; }

// What the delegate needs to replay a config: its type and the exact bytes.
struct DelegateConf {
  std::string type;
  std::string bytes;
};

DelegateConf Build(const NetConf& n, const SubnetEnv& env) {
  cni::Json d = BuildDelegate(n, env);
  return {d["type"].get<std::string>(), MarshalDelegate(d)};
}

// The saved config when it is usable: readable, a JSON object, a non-empty string "type".
// Anything else (absent, truncated by a crash, a symlink) is nullopt; why goes to stderr.
std::optional<DelegateConf> LoadSaved(const std::string& path) {
  try {
    std::optional<std::string> bytes = cni::ReadFile(path);
    if (!bytes) return std::nullopt;
    cni::Json j = cni::ParseJson(*bytes);
    std::optional<std::string> type = j.is_object() ? cni::Decoder(j, "NetConf").String("type") : std::nullopt;
    if (!type || type->empty()) throw cni::Error(cni::kDecodingFailure, "no delegate type");
    return DelegateConf{*type, std::move(*bytes)};
  } catch (const cni::Error& e) {
    std::cerr << "flannel: ignoring saved delegate config " << path << ": " << e.msg() << "\n";
    return std::nullopt;
  }
}

void RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    std::cerr << "flannel: remove " << path << ": " << cni::GoErrno(errno) << "\n";
  }
}

// The delegate config for DEL and CHECK: the saved one, else the one ADD would build now. For
// DEL a config that cannot be rebuilt (subnet.env gone) means there is nothing left to do.
std::optional<DelegateConf> SavedOrRebuilt(const NetConf& n, const std::string& path, bool for_del) {
  if (auto saved = LoadSaved(path)) return saved;
  try {
    return Build(n, LoadEnv(n));
  } catch (const cni::Error& e) {
    if (!for_del) throw;
    std::cerr << "flannel: no usable saved config and cannot rebuild it, nothing to release: " << e.msg() << "\n";
    return std::nullopt;
  }
}

// The containers named in the GC attachment list (valid-attachments, else the spec-v1.1.0
// name attachments; neither means every attachment is stale, as libcni's own GC assumes).
std::set<std::string> ValidContainers(const cni::Json& config) {
  std::set<std::string> ids;
  auto list = cni::Field(config, "cni.dev/valid-attachments");
  if (!list) list = cni::Field(config, "cni.dev/attachments");
  if (!list || !list->is_array()) return ids;
  for (const cni::Json& a : *list) {
    if (auto id = a.is_object() ? cni::Field(a, "containerID") : std::nullopt; id && id->is_string()) {
      ids.insert(id->get<std::string>());
    }
  }
  return ids;
}

// Saved files of `network` whose container is not valid; unreadable files of any network too,
// since nothing can replay them (a DEL rebuilds its config anyway). Files of other flannel
// networks sharing the directory are left alone.
void RemoveStaleSaved(const NetConf& n, const std::string& network, const std::set<std::string>& valid,
                      cni::ErrorList& errors) {
  DIR* dir = ::opendir(n.data_dir.c_str());
  if (!dir) {
    if (errno != ENOENT) errors.Add(cni::Error(cni::kInternal, "open " + n.data_dir + ": " + cni::GoErrno(errno)));
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) names.emplace_back(e->d_name);
  ::closedir(dir);
  const time_t now = ::time(nullptr);
  for (const std::string& name : names) {
    std::string path = n.data_dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    if (name[0] == '.') {
      if (name.find(".tmp") != std::string::npos && now - st.st_mtime > kStaleTempSeconds) RemoveFile(path);
      continue;
    }
    if (valid.count(name)) continue;
    errors.Try([&] {
      std::optional<std::string> bytes;
      try {
        bytes = cni::ReadFile(path);
      } catch (const cni::Error&) {
      }
      std::optional<std::string> saved_name;
      if (bytes) {
        try {
          cni::Json j = cni::ParseJson(*bytes);
          if (j.is_object()) saved_name = cni::Decoder(j, "NetConf").String("name");
        } catch (const cni::Error&) {
        }
      }
      if (!saved_name || *saved_name == network) RemoveFile(path);
    });
  }
}

}  // namespace

cni::Result CmdAdd(const cni::CallArgs& args) {
  NetConf n;
  try {
    n = LoadNetConf(args.config);
  } catch (const cni::Error& e) {
    throw cni::Error(e.code(), "failed to load flannel netconf file: " + e.msg());
  }
  SubnetEnv env = LoadEnv(n);
  cni::Json d = BuildDelegate(n, env);
  const std::string type = d["type"].get<std::string>();
  const std::string bytes = MarshalDelegate(d);
  const std::string version = d.contains("cniVersion") && d["cniVersion"].is_string() ? d["cniVersion"].get<std::string>() : "";

  // A delegate that is not installed fails before anything is saved (nothing to undo).
  try {
    cni::FindInPath(type, args.path);
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInternal, "failed to delegate add: " + GoText(e));
  }
  // Saved before the delegate runs, so that a DEL after a crash anywhere below finds it.
  cni::EnsureDir(n.data_dir, 0700);
  const std::string path = SavedPath(n, args.container_id);
  cni::WriteFileAtomic(path, bytes, 0600);
  try {
    return cni::DelegateAdd(type, args.env, bytes, version.empty() ? "0.1.0" : version);
  } catch (const cni::Error& e) {
    // Undo what the delegate may have done (a veth, an IP) now rather than waiting for the
    // runtime's DEL; if the undo fails too, the file stays for that DEL to retry.
    try {
      cni::Delegate(type, "DEL", args.env, bytes);
      RemoveFile(path);
    } catch (const cni::Error& del) {
      std::cerr << "flannel: undoing the failed ADD: " << GoText(del) << "\n";
    }
    throw cni::Error(cni::kInternal, "failed to delegate add: " + GoText(e));
  }
}

void CmdDel(const cni::CallArgs& args) {
  NetConf n = LoadNetConf(args.config);
  const std::string path = SavedPath(n, args.container_id);
  std::optional<DelegateConf> d = SavedOrRebuilt(n, path, true);
  if (!d) return;
  // The delegate's error is returned as it is (as the reference does) and the file is kept,
  // so that the runtime's retry can still release the IP.
  cni::Delegate(d->type, "DEL", args.env, d->bytes);
  RemoveFile(path);
}

void CmdCheck(const cni::CallArgs& args) {
  NetConf n = LoadNetConf(args.config);
  std::optional<DelegateConf> d = SavedOrRebuilt(n, SavedPath(n, args.container_id), false);
  cni::Json conf = cni::ParseJson(d->bytes);
  if (auto prev = cni::Field(args.config, "prevResult")) conf["prevResult"] = *prev;
  cni::Delegate(d->type, "CHECK", args.env, GoMarshal(conf));
}

void CmdGc(const cni::CallArgs& args) {
  NetConf n = LoadNetConf(args.config);
  cni::ErrorList errors;
  RemoveStaleSaved(n, n.name, ValidContainers(args.config), errors);
  errors.Try([&] {
    cni::Json d = BuildDelegate(n, LoadEnv(n));
    for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
      if (auto v = cni::Field(args.config, key)) d[key] = *v;
    }
    cni::Delegate(d["type"].get<std::string>(), "GC", args.env, MarshalDelegate(d));
  });
  errors.ThrowIfAny();
}

void CmdStatus(const cni::CallArgs& args) {
  NetConf n = LoadNetConf(args.config);
  DelegateConf d;
  try {
    d = Build(n, LoadEnv(n));
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kNotAvailable, e.msg());
  }
  cni::Delegate(d.type, "STATUS", args.env, d.bytes);
}

cni::PluginFuncs Funcs() {
  return {.add = CmdAdd, .del = CmdDel, .check = CmdCheck, .gc = CmdGc, .status = CmdStatus, .min_version = {}};
}

}  // namespace flannel
