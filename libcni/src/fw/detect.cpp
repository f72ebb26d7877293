// Backend selection. The reference asks the iptables binary which flavour it is; reading where
// the `iptables` on PATH resolves to (Debian's alternatives point it at xtables-nft-multi or
// xtables-legacy-multi) gives the same answer without a process, and `iptables -V` is the
// fallback for other layouts. The answer is cached for the life of the process.
// A static build (WEFT_STATIC, the release) has no libiptc: iptables-legacy is then driven
// through iptables-legacy-restore like iptables-nft through iptables-restore.
#include <stdlib.h>

#include <climits>

#include "cni/error.h"
#include "cni/fw/fw.h"
#include "proc.h"

namespace cni::fw {

BackendKind DetectIptablesKind() {
  static const BackendKind kind = [] {
    std::string path = FindCommand("iptables");
    if (!path.empty()) {
      char real[PATH_MAX];
      if (realpath(path.c_str(), real)) {
        std::string_view r(real);
        if (r.find("legacy") != std::string_view::npos) return BackendKind::kIptablesLegacy;
        if (r.find("nft") != std::string_view::npos) return BackendKind::kIptablesNft;
      }
      try {
        ProcResult v = RunProcess({path, "-V"}, "");
        if (v.out.find("legacy") != std::string::npos) return BackendKind::kIptablesLegacy;
      } catch (const Error&) {
      }
    }
    return BackendKind::kIptablesNft;
  }();
  return kind;
}

bool IptablesUsable() {
#ifdef WEFT_STATIC
  if (DetectIptablesKind() == BackendKind::kIptablesLegacy)
    return !FindCommand("iptables-legacy-restore").empty();
#else
  if (DetectIptablesKind() == BackendKind::kIptablesLegacy) return true;  // libiptc, in-process
#endif
  return !FindCommand("iptables-restore").empty();
}

std::unique_ptr<Backend> MakeIptablesBackend(BackendKind kind) {
  switch (kind) {
#ifdef WEFT_STATIC
    case BackendKind::kIptablesLegacy: return MakeRestoreBackend(true);
#else
    case BackendKind::kIptablesLegacy: return MakeIptcBackend();
#endif
    case BackendKind::kIptablesNft: return MakeRestoreBackend(false);
    case BackendKind::kNftables: return nullptr;
  }
  return nullptr;
}

}  // namespace cni::fw
