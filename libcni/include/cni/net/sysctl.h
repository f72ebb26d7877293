// sysctl read/write through /proc/sys of the calling thread's namespace. Names use either dots
// or slashes ("net.ipv4.ip_forward", "net/ipv6/conf/eth0/accept_dad"); an interface name with a
// dot must use the slash form. To reach another namespace hold a NetnsGuard.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cni::net {

/// The value with trailing newline removed; throws cni::Error (code 999, errno text).
std::string ReadSysctl(std::string_view name);
/// nullopt when the entry does not exist (e.g. IPv6 disabled), throws on other errors.
std::optional<std::string> FindSysctl(std::string_view name);
/// Writes `value`; throws cni::Error `failed to set sysctl "name": <errno text>`.
void WriteSysctl(std::string_view name, std::string_view value);
/// Writes only when the current value differs (no write, no error, when it is already set).
void EnsureSysctl(std::string_view name, std::string_view value);

}  // namespace cni::net
