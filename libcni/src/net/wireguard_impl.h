// Private to libcni/src/net: the two implementations behind wg::Device (cni/net/wireguard.h).
#pragma once

#include <memory>

#include "cni/net/wireguard.h"

namespace cni::net::wg {

/// The kernel link `spec.name` (which exists, kind "wireguard"), configured over genetlink.
std::unique_ptr<Device> OpenKernelDevice(const DeviceSpec& spec);

/// wireguard-go for `spec.name`: a running one is adopted, otherwise one is started in
/// `spec.netns`. `link_exists`: a tun link of that name is already there (then a running
/// wireguard-go must serve it).
std::unique_ptr<Device> StartUserspaceDevice(const DeviceSpec& spec, bool link_exists);

}  // namespace cni::net::wg
