// bandwidth commands and config. See bandwidth.h.
#include "bandwidth.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

#include "cni/digest.h"
#include "cni/error.h"
#include "cni/json.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"

namespace bandwidth {

namespace {

using cni::Error;
namespace net = cni::net;

[[noreturn]] void Fail(std::string msg) { throw Error(cni::kInternal, std::move(msg)); }

constexpr const char* kEntryKeys[] = {"ingressRate", "ingressBurst", "egressRate", "egressBurst"};
constexpr double kTimeUnitsPerSec = 1e6;
constexpr double kLatencyMs = 25;

// A uint64 field as Go decodes it; `go_struct`/`path` name it in type-mismatch errors.
uint64_t U64(const cni::Json& obj, std::string_view key, const std::string& go_struct,
             const std::string& path) {
  auto v = cni::Field(obj, key);
  if (!v) return 0;
  auto mismatch = [&](const std::string& what) {
    throw Error(cni::kDecodingFailure, "json: cannot unmarshal " + what + " into Go struct field " + go_struct +
                                           "." + path + std::string(key) + " of type uint64");
  };
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() || v->is_number_float()) mismatch("number " + v->dump());
  mismatch(cni::GoJsonType(*v));
  return 0;
}

Entry ParseEntry(const cni::Json& obj, const std::string& go_struct, const std::string& path) {
  Entry e;
  e.ingress_rate = U64(obj, "ingressRate", go_struct, path);
  e.ingress_burst = U64(obj, "ingressBurst", go_struct, path);
  e.egress_rate = U64(obj, "egressRate", go_struct, path);
  e.egress_burst = U64(obj, "egressBurst", go_struct, path);
  return e;
}

// Go decodes the top-level keys into an embedded *BandwidthEntry, which exists as soon as one
// of its keys appears (even with null); only then are runtimeConfig's limits ignored.
bool HasTopLevelEntry(const cni::Json& config) {
  if (!config.is_object()) return false;
  for (auto it = config.begin(); it != config.end(); ++it) {
    for (const char* k : kEntryKeys) {
      std::string_view a = it.key(), b = k;
      bool eq = a.size() == b.size();
      for (size_t i = 0; eq && i < a.size(); ++i)
        eq = std::tolower(static_cast<unsigned char>(a[i])) == std::tolower(static_cast<unsigned char>(b[i]));
      if (eq) return true;
    }
  }
  return false;
}

void ValidateRateAndBurst(uint64_t rate, uint64_t burst) {
  if (burst == 0 && rate != 0) Fail("if rate is set, burst must also be set");
  if (rate == 0 && burst != 0) Fail("if burst is set, rate must also be set");
  if (burst / 8 >= std::numeric_limits<uint32_t>::max()) Fail("burst cannot be more than 4GB");
}

// Go's float64 -> uint32 conversion as compiled for amd64 (through int64): values past int64's
// range, NaN and infinities give 0, larger in-range values keep their low 32 bits.
uint32_t GoU32(double d) {
  if (!(d >= 0) || d >= 9223372036854775808.0) return 0;
  return static_cast<uint32_t>(static_cast<uint64_t>(d));
}

// The host end of the container's veth: its peer index, looked up in the node's namespace and
// matched by name against the result's host-side interfaces.
std::string HostInterface(const std::vector<cni::Interface>& ifaces, const std::string& ifname,
                          const net::Netns& ns, net::Socket& host) {
  if (ifaces.empty()) Fail("no interfaces provided");
  int peer = -1;
  std::string why;
  try {
    net::Socket cont = net::Socket::OpenIn(ns);
    std::optional<net::Link> l = cont.FindLink(ifname);
    if (!l) {
      why = "could not look up \"" + ifname + "\": Link not found";
    } else if (l->kind != "veth") {
      why = "interface \"" + ifname + "\" was not a veth interface";
    } else {
      peer = l->link;
    }
  } catch (const Error& e) {
    why = e.msg();
  }
  if (peer <= 0) Fail("container interface " + ifname + " has no veth peer: " + why);
  std::optional<net::Link> link = host.FindLink(peer);
  if (!link) Fail("veth peer with index " + std::to_string(peer) + " is not in host ns");
  for (const cni::Interface& i : ifaces) {
    if (i.sandbox.empty() && i.name == link->name) return i.name;
  }
  Fail("no veth peer of container interface found in host ns");
}

net::Netns OpenNetns(const std::string& path) {
  try {
    return net::Netns::Open(path);
  } catch (const Error& e) {
    throw Error(cni::kInternal, e.msg());
  }
}

// CHECK of one tbf: the link's root qdisc must be a tbf with the reference's parameters.
void CheckTbf(net::Socket& s, int index, uint64_t rate, uint64_t burst) {
  net::Tbf want = TbfFor(rate, burst);
  std::optional<net::Tbf> have;
  for (const net::Qdisc& q : net::Qdiscs(s, index)) {
    if (q.parent == net::kTcHandleRoot && q.tbf) have = q.tbf;
  }
  if (!have) Fail("Failed to find qdisc");
  if (have->rate != want.rate) Fail("Rate doesn't match");
  if (have->limit != want.limit) Fail("Limit doesn't match");
  if (have->buffer != want.buffer) Fail("Buffer doesn't match");
}

}  // namespace

std::string IfbName(std::string_view network, std::string_view container_id) {
  std::string input(network);
  input += container_id;
  return ("bwp" + cni::Sha512Hex(input)).substr(0, 15);
}

net::Tbf TbfFor(uint64_t rate_bits, uint64_t burst_bits) {
  uint64_t rate = rate_bits / 8;
  auto burst = static_cast<uint32_t>(burst_bits / 8);
  // Transmit time of the burst in µs, truncated, then in ticks; the queue holds 25 ms of rate
  // on top of the burst (uint32 arithmetic wraps as in Go).
  uint32_t usecs = GoU32(static_cast<double>(burst) * kTimeUnitsPerSec / static_cast<double>(rate));
  net::Tbf t;
  t.rate = rate;
  t.buffer = GoU32(static_cast<double>(usecs) * net::TcTicksPerUsec());
  double latency = kTimeUnitsPerSec * (kLatencyMs / 1000.0);
  t.limit = GoU32(static_cast<double>(rate) * latency / kTimeUnitsPerSec) + burst;
  return t;
}

Config ParseConfig(const cni::CallArgs& args) {
  Config c;
  c.name = args.name;
  try {
    std::optional<Entry> runtime;
    if (auto rc = cni::Field(args.config, "runtimeConfig")) {
      if (!rc->is_object()) {
        throw Error(cni::kDecodingFailure,
                    "json: cannot unmarshal " + cni::GoJsonType(*rc) +
                        " into Go struct field PluginConf.runtimeConfig of type struct { Bandwidth "
                        "*main.BandwidthEntry \"json:\\\"bandwidth,omitempty\\\"\" }");
      }
      if (auto bw = cni::Field(*rc, "bandwidth")) {
        if (!bw->is_object()) {
          throw Error(cni::kDecodingFailure, "json: cannot unmarshal " + cni::GoJsonType(*bw) +
                                                 " into Go struct field PluginConf.runtimeConfig.bandwidth of "
                                                 "type main.BandwidthEntry");
        }
        runtime = ParseEntry(*bw, "BandwidthEntry", "runtimeConfig.bandwidth.");
      }
    }
    if (HasTopLevelEntry(args.config)) {
      c.bandwidth = ParseEntry(args.config, "PluginConf", "");
    } else {
      c.bandwidth = runtime;
    }
  } catch (const Error& e) {
    throw Error(cni::kInternal, "failed to parse network configuration: " + e.msg());
  }
  if (c.bandwidth) {
    ValidateRateAndBurst(c.bandwidth->ingress_rate, c.bandwidth->ingress_burst);
    ValidateRateAndBurst(c.bandwidth->egress_rate, c.bandwidth->egress_burst);
  }
  try {
    c.prev_result = args.PrevResult();
  } catch (const Error& e) {
    Fail("could not parse prevResult: " + e.msg());
  }
  return c;
}

cni::Result Add(const cni::CallArgs& args) {
  Config c = ParseConfig(args);
  // The reference prints a missing prevResult as a Go panic here; weft says what is wrong.
  if (!c.prev_result) Fail("must be called as chained plugin");
  cni::Result result = *c.prev_result;
  if (!c.bandwidth || c.bandwidth->IsZero()) return result;

  net::Netns ns = OpenNetns(args.netns);
  net::Socket host = net::Socket::Open();
  std::string host_if = HostInterface(result.interfaces, args.ifname, ns, host);
  const Entry& bw = *c.bandwidth;

  if (bw.ingress_rate > 0 && bw.ingress_burst > 0) {
    std::optional<net::Link> dev = host.FindLink(host_if);
    if (!dev) Fail("get host device: Link not found");
    try {
      net::AddTbfQdisc(host, dev->index, net::TcHandle(1, 0), net::kTcHandleRoot,
                       TbfFor(bw.ingress_rate, bw.ingress_burst));
    } catch (const Error& e) {
      throw e.Wrap("create qdisc");
    }
  }

  if (bw.egress_rate > 0 && bw.egress_burst > 0) {
    std::optional<net::Link> dev = host.FindLink(host_if);
    if (!dev) Fail("Link not found");
    std::string ifb_name = IfbName(c.name, args.container_id);
    net::Link ifb;
    try {
      ifb = host.CreateSimple("ifb", ifb_name, dev->mtu);
      host.SetUp(ifb.index);
    } catch (const Error& e) {
      std::string msg = e.msg();
      if (auto* ne = dynamic_cast<const net::NetlinkError*>(&e)) {
        msg = std::strerror(ne->err());
        msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
      }
      Fail("adding link: " + msg);
    }
    cni::Interface iface;
    iface.name = ifb_name;
    if (ifb.mac) iface.mac = ifb.mac->String();
    result.interfaces.push_back(std::move(iface));
    try {
      net::AddIngressQdisc(host, dev->index);
    } catch (const Error& e) {
      throw e.Wrap("create ingress qdisc");
    }
    // The reference's library puts a "stolen" redirect in front of the one it was given
    // ("pass"); both are kept so that `tc filter show` reads the same.
    net::U32MatchAll f;
    f.index = dev->index;
    f.parent = net::TcHandle(0xffff, 0);
    f.priority = 1;
    f.classid = net::TcHandle(1, 1);
    f.actions = {{4, 1, ifb.index}, {0, 1, ifb.index}};
    try {
      net::AddU32Filter(host, f);
    } catch (const Error& e) {
      throw e.Wrap("add filter");
    }
    try {
      net::AddTbfQdisc(host, ifb.index, net::TcHandle(1, 0), net::kTcHandleRoot,
                       TbfFor(bw.egress_rate, bw.egress_burst));
    } catch (const Error& e) {
      throw e.Wrap("create qdisc").Wrap("create ifb qdisc");
    }
  }
  return result;
}

void Del(const cni::CallArgs& args) {
  Config c = ParseConfig(args);
  net::Socket host = net::Socket::Open();
  std::string name = IfbName(c.name, args.container_id);
  try {
    host.DeleteLink(name);
  } catch (const Error& e) {
    throw e.Wrap("failed to delete \"" + name + "\"");
  }
}

void Check(const cni::CallArgs& args) {
  Config c = ParseConfig(args);
  if (!c.prev_result) Fail("must be called as a chained plugin");
  net::Netns ns = OpenNetns(args.netns);
  net::Socket host = net::Socket::Open();
  std::string host_if = HostInterface(c.prev_result->interfaces, args.ifname, ns, host);
  std::optional<net::Link> dev = host.FindLink(host_if);
  if (!dev) Fail("Link " + host_if + " not found");
  // Nothing configured: nothing to check (the 1.1.1 reference crashes here; HEAD returns).
  if (!c.bandwidth || c.bandwidth->IsZero()) return;
  const Entry& bw = *c.bandwidth;
  if (bw.ingress_rate > 0 && bw.ingress_burst > 0) CheckTbf(host, dev->index, bw.ingress_rate, bw.ingress_burst);
  if (bw.egress_rate > 0 && bw.egress_burst > 0) {
    std::optional<net::Link> ifb = host.FindLink(IfbName(c.name, args.container_id));
    if (!ifb) Fail("get ifb device: Link not found");
    CheckTbf(host, ifb->index, bw.egress_rate, bw.egress_burst);
  }
}

cni::PluginFuncs Funcs() {
  cni::PluginFuncs f;
  f.add = Add;
  f.del = Del;
  f.check = Check;
  f.min_version = "0.3.0";
  return f;
}

}  // namespace bandwidth
