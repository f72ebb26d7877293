// placeholder replaced below
#include "cni/fw/fw.h"
namespace cni::fw {
std::unique_ptr<Backend> MakeIptcBackend() { return MakeRestoreBackend(true); }
}  // namespace cni::fw
