// See cni/fw/firewalld.h. The few libdbus-1 entry points used are declared here (the library's
// ABI is stable; its -dev package is not needed): dbus_bus_get for the shared system-bus
// connection and dbus_bus_name_has_owner (the NameHasOwner call the reference makes as
// GetNameOwner).
#include "cni/fw/firewalld.h"

#include <dlfcn.h>

namespace cni::fw {

namespace {

// DBusError is a public struct of two pointers, a bit field and a pointer; a larger aligned
// buffer is handed to dbus_error_init, which initialises it.
struct alignas(16) DBusErrorBuf {
  unsigned char bytes[128];
};
constexpr int kDBusBusSystem = 1;

}  // namespace

bool FirewalldRunning() {
  void* lib = dlopen("libdbus-1.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return false;
  using ErrorInit = void (*)(DBusErrorBuf*);
  using ErrorFree = void (*)(DBusErrorBuf*);
  using BusGet = void* (*)(int, DBusErrorBuf*);
  using HasOwner = unsigned (*)(void*, const char*, DBusErrorBuf*);
  using Unref = void (*)(void*);
  auto error_init = reinterpret_cast<ErrorInit>(dlsym(lib, "dbus_error_init"));
  auto error_free = reinterpret_cast<ErrorFree>(dlsym(lib, "dbus_error_free"));
  auto bus_get = reinterpret_cast<BusGet>(dlsym(lib, "dbus_bus_get"));
  auto has_owner = reinterpret_cast<HasOwner>(dlsym(lib, "dbus_bus_name_has_owner"));
  auto unref = reinterpret_cast<Unref>(dlsym(lib, "dbus_connection_unref"));
  if (!error_init || !error_free || !bus_get || !has_owner || !unref) return false;
  DBusErrorBuf err{};
  error_init(&err);
  void* conn = bus_get(kDBusBusSystem, &err);
  bool running = false;
  if (conn) {
    running = has_owner(conn, "org.fedoraproject.FirewallD1", &err) != 0;
    unref(conn);
  }
  error_free(&err);
  // libdbus stays loaded: its shared connection may still be referenced by its own exit hooks.
  return running;
}

}  // namespace cni::fw
