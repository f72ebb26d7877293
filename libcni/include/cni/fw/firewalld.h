// Whether firewalld is running, as the reference firewall plugin decides it: the name
// org.fedoraproject.FirewallD1 has an owner on the system D-Bus (DBUS_SYSTEM_BUS_ADDRESS or the
// default socket). libdbus-1 is loaded with dlopen on first use, so plugins that never ask don't
// load it; when it is not installed or there is no system bus, firewalld is not running.
#pragma once

namespace cni::fw {

bool FirewalldRunning();

}  // namespace cni::fw
