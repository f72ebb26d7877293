// The rtnetlink layer of weft. A Socket is one NETLINK_ROUTE socket opened inside a namespace
// (OpenIn switches there only for the socket() call) and then used from anywhere: every
// operation acts on the namespace the socket belongs to, never on "whatever namespace this thread
// is in". Requests and dumps are built with libnl-3, which stays inside libcni/src/net: this
// header speaks value types only. Errors are cni::Error with the kernel's errno text, e.g.
// `failed to create bridge "cni0": File exists`. Dumps retry NLM_F_DUMP_INTR a bounded number of
// times. Verbs: Create (fails if it exists), Ensure/Replace (idempotent), Delete (not found is
// success), Find (std::optional).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cni/error.h"
#include "cni/ip.h"

namespace cni::net {

class Netns;

/// A cni::Error (code 999) from a netlink request that also keeps the kernel's errno, for callers
/// that must tell "File exists" from other failures.
class NetlinkError : public Error {
 public:
  NetlinkError(int err, std::string msg) : Error(kInternal, std::move(msg)), errno_(err) {}
  int err() const { return errno_; }

 private:
  int errno_;
};

/// A 48-bit Ethernet address.
struct Mac {
  std::array<uint8_t, 6> b{};
  /// Go's net.ParseMAC forms of a 48-bit address: "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff",
  /// "aabb.ccdd.eeff" (any case, one separator throughout).
  static std::optional<Mac> Parse(std::string_view s);
  std::string String() const;                            // lower-case, ':'-separated
  bool IsZero() const;
  auto operator<=>(const Mac&) const = default;
};

/// A link as read from the kernel.
struct Link {
  int index = 0;
  std::string name{};
  std::string kind{};        // "bridge", "veth", "vxlan", "" for a physical/loopback device
  std::optional<Mac> mac{};  // nullopt for links without an L2 address
  uint32_t mtu = 0;
  int master = 0;          // ifindex of the bridge this is a port of, 0 if none
  bool up = false;         // IFF_UP (administrative)
  bool promisc = false;
  bool allmulti = false;   // IFF_ALLMULTI
  uint32_t txqlen = 0;     // IFLA_TXQLEN
  int link = 0;            // IFLA_LINK (veth peer index, vxlan has its own `vxlan_dev`)
  int link_netnsid = -1;   // IFLA_LINK_NETNSID, -1 when the peer is in this namespace
  // bridge
  bool vlan_filtering = false;
  uint16_t default_pvid = 0;
  // bridge port (valid when master != 0 and the master is a bridge)
  bool hairpin = false;
  bool isolated = false;
  bool learning = false;
  // vxlan
  uint32_t vni = 0;
  uint16_t vxlan_port = 0;
  IP vxlan_local{};
  int vxlan_dev = 0;
  bool vxlan_learning = false;
  auto operator<=>(const Link&) const = default;
};

using LinkId = std::variant<int, std::string>;  // ifindex or name

struct BridgeSpec {
  std::string name{};
  uint32_t mtu = 0;                  // 0: kernel default
  std::optional<Mac> mac{};          // set at creation (pins the bridge MAC)
  std::optional<bool> vlan_filtering{};
  std::optional<uint16_t> default_pvid{};
};

struct VethSpec {
  std::string name{};       // this end, created in the socket's namespace
  uint32_t mtu = 0;       // both ends
  std::optional<Mac> mac{}; // this end
  std::string peer_name{};
  std::optional<Mac> peer_mac{};
  int peer_netns_fd = -1; // the peer is created directly in this namespace (-1: same namespace)
  int master = 0;         // this end is attached to this bridge at creation (0: none)
  bool up = false;        // this end is set up at creation
};

struct VxlanSpec {
  std::string name{};
  uint32_t vni = 0;
  uint16_t port = 0;   // 0: kernel default (8472)
  IP local{};            // optional
  int dev = 0;         // optional underlay ifindex
  bool learning = false;
  uint32_t mtu = 0;
  std::optional<Mac> mac{};
};

struct Addr {
  int index = 0;
  IPNet addr{};           // address with its prefix
  int scope = 0;        // RT_SCOPE_UNIVERSE
  uint32_t flags = 0;   // IFA_F_* (IFA_F_NODAD, IFA_F_PERMANENT, ...)
  std::string label{};
  auto operator<=>(const Addr&) const = default;
};

struct Nexthop {
  IP gw{};
  int index = 0;
  int weight = 1;  // 1..256
  bool onlink = false;
  auto operator<=>(const Nexthop&) const = default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 false positive
};

struct Route {
  IPNet dst{};            // masked; 0.0.0.0/0 or ::/0 for default
  IP gw{};              // single-path gateway (invalid when none)
  int index = 0;        // output interface (single path)
  IP src{};             // preferred source (optional)
  uint32_t table = 254; // RT_TABLE_MAIN
  int scope = 0;        // RT_SCOPE_UNIVERSE; RT_SCOPE_LINK = 253, RT_SCOPE_HOST = 254
  int protocol = 3;     // RTPROT_BOOT, what the reference's routes carry (kernel routes read back as 2)
  int type = 1;         // RTN_UNICAST; RTN_BLACKHOLE = 6, RTN_UNREACHABLE = 7 (no gw/index)
  uint32_t metric = 0;  // priority
  uint32_t mtu = 0;     // RTAX_MTU, 0 = none
  bool onlink = false;
  std::vector<Nexthop> multipath{};  // ECMP when non-empty (gw/index then unused)
  int family() const { return dst.ip.af(); }
  auto operator<=>(const Route&) const = default;
};

struct Neigh {
  int index = 0;
  IP ip{};
  Mac mac{};
  uint16_t state = 0x80;  // NUD_PERMANENT
  uint8_t flags = 0;
  auto operator<=>(const Neigh&) const = default;
};

/// A bridge/vxlan forwarding database entry (AF_BRIDGE neighbour).
struct Fdb {
  int index = 0;          // port (the vxlan device or a bridge port)
  Mac mac{};
  IP dst{};               // vxlan remote (NDA_DST), invalid for plain bridge entries
  int master = 0;         // the bridge for NTF_MASTER entries, 0 for NTF_SELF
  uint16_t vlan = 0;
  uint16_t state = 0x80;  // NUD_PERMANENT
  bool self = true;       // NTF_SELF (on the device itself, e.g. vxlan)
  auto operator<=>(const Fdb&) const = default;
};

/// Bridge VLAN membership of a port (or of the bridge itself, with `self`).
struct BridgeVlan {
  uint16_t vid = 0;
  bool pvid = false;
  bool untagged = false;
  auto operator<=>(const BridgeVlan&) const = default;
};

/// Bridge-port flags; nullopt leaves a flag as it is.
struct PortFlags {
  std::optional<bool> hairpin{}, isolated{}, learning{};
};

class Socket {
 public:
  /// A socket in the calling thread's namespace.
  static Socket Open();
  /// A socket in `ns` (the thread switches there only while the socket is created).
  static Socket OpenIn(const Netns& ns);

  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  ~Socket();

  // ---- links
  std::optional<Link> FindLink(const LinkId& id);
  Link GetLink(const LinkId& id);  // throws `failed to find link "x"` (code 999) when missing
  std::vector<Link> Links();
  Link CreateBridge(const BridgeSpec& spec);
  /// The bridge named spec.name, created with `spec` when missing (a concurrent creator's bridge is
  /// accepted). Throws `could not add "x": <errno text>` or `"x" already exists but is not a
  /// bridge`. `created` (optional) tells whether this call created it.
  Link EnsureBridge(const BridgeSpec& spec, bool* created = nullptr);
  /// Creates the pair; returns this end (the peer is looked up through its namespace).
  Link CreateVeth(const VethSpec& spec);
  Link CreateVxlan(const VxlanSpec& spec);
  /// Creates a link of a kind without options ("dummy"); for tests and simple devices.
  Link CreateSimple(std::string_view kind, std::string_view name, uint32_t mtu = 0);
  /// Deletes the link; returns false when it did not exist.
  bool DeleteLink(const LinkId& id);
  void SetUp(const LinkId& id, bool up = true);
  void SetMtu(const LinkId& id, uint32_t mtu);
  void SetMac(const LinkId& id, const Mac& mac);
  void SetMaster(const LinkId& id, int master_index);  // 0 detaches
  void SetPromisc(const LinkId& id, bool on);
  void SetAllmulti(const LinkId& id, bool on);
  void SetTxQLen(const LinkId& id, uint32_t qlen);
  void SetName(const LinkId& id, std::string_view name);
  void SetPortFlags(const LinkId& port, const PortFlags& flags);
  void SetBridgeVlanFiltering(const LinkId& bridge, bool on);

  // ---- bridge VLANs (vlan_filtering bridges)
  void AddBridgeVlan(const LinkId& port, const BridgeVlan& v, bool self = false);
  void DelBridgeVlan(const LinkId& port, uint16_t vid, bool self = false);
  std::vector<BridgeVlan> BridgeVlans(const LinkId& port);

  // ---- addresses
  void AddAddr(const Addr& a);       // fails with "File exists" when present
  void ReplaceAddr(const Addr& a);   // add or update
  bool DeleteAddr(const Addr& a);    // false when absent
  std::vector<Addr> Addrs(int index = 0, int family = 0);  // 0 = all

  // ---- routes
  void AddRoute(const Route& r);
  void ReplaceRoute(const Route& r);
  bool DeleteRoute(const Route& r);
  /// Routes of `table` (0 = all tables) and family (0 = both); cache/cloned entries excluded.
  std::vector<Route> Routes(int family = 0, uint32_t table = 254);

  // ---- neighbours
  void AddNeigh(const Neigh& n);
  void ReplaceNeigh(const Neigh& n);
  bool DeleteNeigh(const Neigh& n);
  std::vector<Neigh> Neighs(int index = 0, int family = 0);

  // ---- FDB
  void AddFdb(const Fdb& f);     // NLM_F_CREATE|NLM_F_EXCL
  void AppendFdb(const Fdb& f);  // NLM_F_APPEND (several vxlan remotes for one MAC)
  void ReplaceFdb(const Fdb& f);
  bool DeleteFdb(const Fdb& f);
  std::vector<Fdb> Fdbs(int index = 0);  // entries on device `index` (0 = all)

  struct Impl;
  Impl& impl() { return *impl_; }  // for the other files of libcni/src/net (nl.h)

 private:
  explicit Socket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A random locally-administered unicast MAC (like the kernel's eth_random_addr).
Mac RandomMac();

}  // namespace cni::net
