// tuning's config handling: the bytes are the plugin's stdin. The raw-text duplicate scan sees
// them as they are (even when they are not JSON); the decoder and the sysctl path rules see what
// skel lets through. Oracle beyond fuzz_util's: every path SysctlPath accepts is a clean path
// under /proc/sys/net/, whatever the key and interface name.
#include <string>

#include "cni/json.h"
#include "fuzz_util.h"
#include "plugins/tuning/config.h"

namespace {

void CheckPath(const std::string& key, const std::string& ifname) {
  std::string p;
  if (!fuzz::Accepts([&] { p = tuning::SysctlPath(key, ifname); })) return;
  if (!p.starts_with("/proc/sys/net/") || p.find("//") != std::string::npos ||
      p.find("/../") != std::string::npos || p.ends_with("/..") || p.find("/./") != std::string::npos)
    fuzz::Fail("sysctl path escapes or is not clean: " + p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::Bytes(data, size));
  fuzz::Accepts([&] { tuning::CheckDuplicateSysctls(text); });
  cni::Json j;
  if (!fuzz::Accepts([&] { j = cni::ParseJson(text); }) || !j.is_object()) return 0;
  tuning::Conf c;
  if (!fuzz::Accepts([&] { c = tuning::ParseConf(j, ""); })) return 0;
  for (const auto& [key, value] : c.sysctls) {
    CheckPath(key, "eth0");
    CheckPath(key, "eth0.100");
    CheckPath(key, value.substr(0, 15));  // an arbitrary interface name (skel would refuse '/')
  }
  return 0;
}
