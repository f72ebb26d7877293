// The plugin dispatcher (the reference's pkg/skel): environment validation, stdin config
// checks, version negotiation, dispatch and error printing. See skel.h.
#include "cni/skel.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <istream>
#include <iterator>
#include <ostream>
#include <streambuf>

#include "cni/error.h"

extern char** environ;

namespace cni {
namespace {

bool ValidName(std::string_view s) {
  // ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ without a regex engine (start-up time counts).
  if (s.empty()) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// The process's stdin, stdout and stderr as stream buffers on their fds. std::cin/cout/cerr
// would put <iostream>'s static std::ios_base::Init (eight standard streams and their locale
// set-up) into every plugin start: ~0.06 ms CPU and 16 page faults of a static start here
// (docs/benchmarks.md, "Process start"). stdout is buffered until flushed, as std::cout with
// sync_with_stdio(false); stderr is written through, as std::cerr; a read error on stdin is the
// error std::cin's badbit gave.
class FdBuf : public std::streambuf {
 public:
  FdBuf(int fd, bool buffered) : fd_(fd), buffered_(buffered) {
    if (buffered_) setp(buf_, buf_ + sizeof buf_);
  }
  ~FdBuf() override { Flush(); }
  FdBuf(const FdBuf&) = delete;

 protected:
  int_type underflow() override {
    ssize_t k;
    do {
      k = ::read(fd_, buf_, sizeof buf_);
    } while (k < 0 && errno == EINTR);
    if (k < 0) throw Error(kIOFailure, "error reading from stdin");
    if (k == 0) return traits_type::eof();
    setg(buf_, buf_, buf_ + k);
    return traits_type::to_int_type(*gptr());
  }
  int_type overflow(int_type c) override {
    if (!Flush()) return traits_type::eof();
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    if (buffered_) {
      *pptr() = ch;
      pbump(1);
    } else if (!Write(&ch, 1)) {
      return traits_type::eof();
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (buffered_) return std::streambuf::xsputn(s, n);
    return Write(s, static_cast<size_t>(n)) ? n : 0;
  }
  int sync() override { return Flush() ? 0 : -1; }

 private:
  bool Write(const char* p, size_t n) {
    while (n > 0) {
      ssize_t k = ::write(fd_, p, n);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  }
  bool Flush() {
    if (!buffered_ || pptr() == pbase()) return true;
    bool ok = Write(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(buf_, buf_ + sizeof buf_);
    return ok;
  }

  int fd_;
  bool buffered_;
  char buf_[8192];
};

std::string Get(const Env& env, std::string_view key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

// Which commands require each variable, in the reference's order (the order of the
// "required env variables [...] missing" list).
struct VarRule {
  const char* name;
  std::string CallArgs::*field;
  std::initializer_list<std::string_view> required_for;
  void (*validate)(std::string_view);
};

bool Contains(std::initializer_list<std::string_view> l, std::string_view v) {
  for (auto s : l)
    if (s == v) return true;
  return false;
}

void ValidateConfig(const std::string& data, CallArgs& args) {
  Json j;
  try {
    j = ParseJson(data);
  } catch (const Error& e) {
    throw Error(kDecodingFailure, "error unmarshall network config: " + e.msg());
  }
  if (!j.is_object() && !j.is_null()) {
    throw Error(kDecodingFailure, "error unmarshall network config: json: cannot unmarshal " + GoJsonType(j) +
                                      " into Go value of type struct { Name string \"json:\\\"name\\\"\" }");
  }
  std::optional<std::string> name;
  try {
    name = Decoder(j, "").String("name");
  } catch (const Error& e) {
    throw Error(kDecodingFailure, "error unmarshall network config: " + e.msg());
  }
  if (!name || name->empty()) throw Error(kInvalidNetworkConfig, "missing network name");
  ValidateNetworkName(*name);
  args.config = std::move(j);
  args.name = *name;
}

std::string ConfigVersion(const Json& config) {
  // version.ConfigDecoder: cniVersion as a string; empty means 0.1.0.
  std::optional<std::string> v;
  try {
    v = Decoder(config, "").String("cniVersion");
  } catch (const Error& e) {
    throw Error(kDecodingFailure, "decoding version from network config: " + e.msg());
  }
  return v && !v->empty() ? *v : "0.1.0";
}

std::string QuotedList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " \"" : "\"") + v[i] + "\"";
  return s + "]";
}

void CheckVersion(const std::string& version, const std::vector<std::string>& supported) {
  if (std::find(supported.begin(), supported.end(), version) == supported.end()) {
    throw Error(kIncompatibleVersion, "incompatible CNI versions",
                "config is \"" + version + "\", plugin supports " + QuotedList(supported));
  }
}

// CHECK needs >= 0.4.0, GC and STATUS >= 1.1.0 (skel's per-command gate).
void CheckMinimum(const std::string& version, const char* minimum, const std::string& command) {
  int cmp;
  try {
    cmp = CompareVersions(version, minimum);
  } catch (const Error& e) {
    throw Error(kDecodingFailure, e.msg());
  }
  if (cmp < 0) throw Error(kIncompatibleVersion, "config version does not allow " + command);
}

// The reference checks after ADD/DEL that CNI_NETNS is not the plugin's own namespace; weft
// checks before doing any work, so a misconfigured runtime never gets a half-done ADD.
void CheckNotOwnNetns(const CallArgs& args, const Env& env) {
  if (args.netns.empty()) return;
  std::string override_ = Get(env, "CNI_NETNS_OVERRIDE");
  for (char& c : override_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (override_ == "1" || override_ == "true") return;
  struct stat a {}, b {};
  if (stat(args.netns.c_str(), &a) != 0 || stat("/proc/self/ns/net", &b) != 0) return;
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    throw Error(kInvalidNetns, "plugin's netns and netns from CNI_NETNS should not be the same");
  }
}

const char* kAboutVersions = "CNI protocol versions supported: ";

}  // namespace

void ValidateContainerID(std::string_view id) {
  if (id.empty()) throw Error(kUnknownContainer, "missing containerID");
  if (!ValidName(id)) throw Error(kInvalidEnvironment, "invalid characters in containerID", std::string(id));
}

void ValidateInterfaceName(std::string_view ifname) {
  if (ifname.empty()) throw Error(kInvalidEnvironment, "interface name is empty");
  if (ifname.size() > 15) {
    throw Error(kInvalidEnvironment, "interface name is too long", "interface name should be less than 16 characters");
  }
  if (ifname == "." || ifname == "..") throw Error(kInvalidEnvironment, "interface name is . or ..");
  // '/', ':' and unicode.IsSpace (ASCII white space plus the UTF-8 encoded Unicode spaces).
  static const std::string_view kSpaces[] = {"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
                                             "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
  bool bad = false;
  for (size_t i = 0; i < ifname.size() && !bad; ++i) {
    unsigned char c = static_cast<unsigned char>(ifname[i]);
    // weft also refuses the other control characters (a NUL would truncate the name).
    bad = c == '/' || c == ':' || c == ' ' || c < 0x20 || c == 0x7f;
    if (c == 0xe2 && i + 2 < ifname.size() && ifname[i + 1] == '\x80' &&
        static_cast<unsigned char>(ifname[i + 2]) >= 0x80 && static_cast<unsigned char>(ifname[i + 2]) <= 0x8a) {
      bad = true;
    }
  }
  for (std::string_view sp : kSpaces) bad = bad || ifname.find(sp) != std::string_view::npos;
  if (bad) throw Error(kInvalidEnvironment, "interface name contains / or : or whitespace characters");
}

void ValidateNetworkName(std::string_view name) {
  if (name.empty()) throw Error(kInvalidNetworkConfig, "missing network name");
  if (!ValidName(name)) throw Error(kInvalidNetworkConfig, "invalid characters found in network name", std::string(name));
}

std::optional<Result> CallArgs::PrevResult() const {
  auto prev = Field(config, "prevResult");
  if (!prev) return std::nullopt;
  return Result::FromJson(*prev, cni_version);
}

std::vector<std::string> VersionsFrom(std::string_view min_version) {
  std::vector<std::string> out;
  for (const std::string& v : SupportedVersions())
    if (min_version.empty() || CompareVersions(v, min_version) >= 0) out.push_back(v);
  return out;
}

std::string VersionJson(std::string_view min_version) {
  Json j = Json::object();
  j["cniVersion"] = SupportedVersions().back();
  j["supportedVersions"] = VersionsFrom(min_version);
  return j.dump() + "\n";
}

Env ProcessEnv() {
  Env env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

int Dispatch(const PluginFuncs& funcs, std::string_view plugin_name, const Invocation& inv) {
  const std::string command = Get(inv.env, "CNI_COMMAND");
  const std::vector<std::string> supported = VersionsFrom(funcs.min_version);
  CallArgs args;
  try {
    static const VarRule kRules[] = {
        {"CNI_COMMAND", &CallArgs::command, {"ADD", "CHECK", "DEL", "GC", "STATUS"}, nullptr},
        {"CNI_CONTAINERID", &CallArgs::container_id, {"ADD", "CHECK", "DEL"}, ValidateContainerID},
        {"CNI_NETNS", &CallArgs::netns, {"ADD", "CHECK"}, nullptr},
        {"CNI_IFNAME", &CallArgs::ifname, {"ADD", "CHECK", "DEL"}, ValidateInterfaceName},
        {"CNI_ARGS", &CallArgs::args, {}, nullptr},
        {"CNI_PATH", &CallArgs::path, {"ADD", "CHECK", "DEL", "GC", "STATUS"}, nullptr},
    };
    std::string missing;
    for (const VarRule& rule : kRules) {
      std::string value = Get(inv.env, rule.name);
      bool required = Contains(rule.required_for, command);
      if (value.empty()) {
        if (required || rule.field == &CallArgs::command) missing += (missing.empty() ? "" : ",") + std::string(rule.name);
      } else if (required && rule.validate) {
        rule.validate(value);
      }
      args.*rule.field = std::move(value);
    }
    if (!missing.empty()) {
      if (command.empty()) {
        inv.err << "CNI " << plugin_name << " plugin weft v" << WEFT_VERSION << "\n" << kAboutVersions;
        for (size_t i = 0; i < supported.size(); ++i) inv.err << (i ? ", " : "") << supported[i];
        inv.err << "\n";
        return 0;
      }
      throw Error(kInvalidEnvironment, "required env variables [" + missing + "] missing");
    }
    if (command == "VERSION") {
      inv.out << VersionJson(funcs.min_version);
      inv.out.flush();
      return 0;
    }
    args.stdin_data.assign(std::istreambuf_iterator<char>(inv.in), std::istreambuf_iterator<char>());
    if (inv.in.bad()) throw Error(kIOFailure, "error reading from stdin");
    ValidateConfig(args.stdin_data, args);
    args.env = inv.env;

    auto call = [&](const auto& fn) {
      args.cni_version = ConfigVersion(args.config);
      CheckVersion(args.cni_version, supported);
      if (fn) fn(args);
    };
    if (command == "ADD") {
      args.cni_version = ConfigVersion(args.config);
      CheckVersion(args.cni_version, supported);
      CheckNotOwnNetns(args, inv.env);
      if (!funcs.add) throw Error(kInternal, "ADD is not implemented");
      Result r = funcs.add(args);
      inv.out << r.Print(args.cni_version);
    } else if (command == "DEL") {
      args.cni_version = ConfigVersion(args.config);
      CheckVersion(args.cni_version, supported);
      CheckNotOwnNetns(args, inv.env);
      call(funcs.del);
    } else if (command == "CHECK") {
      CheckMinimum(ConfigVersion(args.config), "0.4.0", command);
      call(funcs.check);
    } else if (command == "GC" || command == "STATUS") {
      CheckMinimum(ConfigVersion(args.config), "1.1.0", command);
      call(command == "GC" ? funcs.gc : funcs.status);
    } else {
      throw Error(kInvalidEnvironment, "unknown CNI_COMMAND: " + command);
    }
    inv.out.flush();
    return 0;
  } catch (const Error& e) {
    inv.out << e.ToJson();
  } catch (const std::exception& e) {
    inv.out << Error(kInternal, e.what()).ToJson();
  }
  inv.out.flush();
  return 1;
}

int PluginMain(const PluginFuncs& funcs, std::string_view plugin_name) {
  FdBuf in_buf(0, false), out_buf(1, true), err_buf(2, false);
  std::istream in(&in_buf);
  std::ostream out(&out_buf), err(&err_buf);
  return Dispatch(funcs, plugin_name, Invocation{ProcessEnv(), in, out, err});
}

}  // namespace cni
