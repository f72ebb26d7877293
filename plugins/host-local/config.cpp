// host-local configuration decoding, canonicalisation and validation. See config.h; the order of
// checks and every message follow the reference's LoadIPAMConfig / RangeSet / Range code paths.
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cni/args.h"
#include "cni/error.h"
#include "cni/files.h"
#include "cni/json.h"

namespace hostlocal {
namespace {

using cni::Decoder;
using cni::Error;
using cni::IP;
using cni::IPNet;
using cni::Json;

[[noreturn]] void Fail(std::string msg) { throw Error(cni::kInternal, std::move(msg)); }

// net.IP's UnmarshalText: "" leaves the field unset, anything unparsable is an error.
IP DecodeNetIP(const Decoder& d, std::string_view key) {
  auto raw = d.Raw(key);
  if (!raw) return IP();
  if (!raw->is_string()) d.Mismatch(key, *raw, "net.IP");
  const std::string s = raw->get<std::string>();
  if (s.empty()) return IP();
  auto ip = IP::Parse(s);
  if (!ip) Fail("invalid IP address: " + s);
  return *ip;
}

// types.IPNet's UnmarshalJSON: a JSON string holding a CIDR; host bits are kept.
std::optional<Range> DecodeSubnet(const Decoder& d, Range r) {
  auto raw = d.Raw("subnet");
  if (!raw) return r;
  if (!raw->is_string()) Fail("json: cannot unmarshal " + cni::GoJsonType(*raw) + " into Go value of type string");
  const std::string s = raw->get<std::string>();
  auto net = IPNet::Parse(s);
  if (!net) Fail("invalid CIDR address: " + s);
  r.subnet = *net;
  r.mask_bits = s.find(':') != std::string::npos ? 128 : 32;
  return r;
}

Range DecodeRange(const Json& j, const std::string& path) {
  if (!j.is_object()) {
    Fail("json: cannot unmarshal " + cni::GoJsonType(j) + " into Go struct field " + path +
         " of type allocator.Range");
  }
  Decoder d(j, "Range", path);
  Range r;
  r.range_start = DecodeNetIP(d, "rangeStart");
  r.range_end = DecodeNetIP(d, "rangeEnd");
  r = *DecodeSubnet(d, r);
  r.gateway = DecodeNetIP(d, "gateway");
  return r;
}

std::vector<RangeSet> DecodeRangeSets(const Json& j, const std::string& type, const std::string& path) {
  std::vector<RangeSet> out;
  if (!j.is_array()) {
    Fail("json: cannot unmarshal " + cni::GoJsonType(j) + " into Go struct field " + type + "." + path +
         " of type []allocator.RangeSet");
  }
  for (const Json& set : j) {
    RangeSet rs;
    if (!set.is_null()) {
      if (!set.is_array()) {
        Fail("json: cannot unmarshal " + cni::GoJsonType(set) + " into Go struct field " + type + "." + path +
             " of type allocator.RangeSet");
      }
      for (const Json& r : set) rs.ranges.push_back(r.is_null() ? Range() : DecodeRange(r, path));
    }
    out.push_back(std::move(rs));
  }
  return out;
}

// pkg/ip.IP: "ip" or "ip/len" (the length is dropped); the message has no colon.
std::optional<IP> ParseRequestedIP(std::string_view s) {
  if (s.find('/') != std::string_view::npos) {
    auto n = IPNet::Parse(s);
    if (!n) return std::nullopt;
    return n->ip;
  }
  return IP::Parse(s);
}

void DecodeIPList(const std::optional<Json>& raw, const std::string& where, std::vector<IP>& out) {
  if (!raw) return;
  if (!raw->is_array()) {
    Fail("json: cannot unmarshal " + cni::GoJsonType(*raw) + " into Go struct field " + where + " of type []*ip.IP");
  }
  for (const Json& e : *raw) {
    if (e.is_null()) continue;
    if (!e.is_string()) Fail("json: cannot unmarshal " + cni::GoJsonType(e) + " into Go value of type string");
    auto ip = ParseRequestedIP(e.get<std::string>());
    if (!ip) Fail("invalid IP address " + e.get<std::string>());
    out.push_back(*ip);
  }
}

int Cmp(const IP& a, const IP& b) {
  auto x = IpValue(a), y = IpValue(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

IpamConfig LoadIpamConfigUnwrapped(const Json& config, std::string_view cni_args);

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

U128 IpValue(const IP& ip) {
  U128 v = 0;
  for (size_t i = 0; i < ip.size(); ++i) v = (v << 8) | ip.data()[i];
  return v;
}

void Range::Canonicalize() {
  if (!subnet.ip.valid()) Fail("IP <nil> not v4 nor v6");
  const int ones = subnet.prefix;
  if (ones > mask_bits - 2) Fail("Network " + subnet.String() + " too small to allocate from");
  if (subnet.ip.bits() != mask_bits) Fail("IPNet IP and Mask version mismatch");
  const IP network = subnet.ip.Masked(ones);
  if (network != subnet.ip) {
    Fail("Network has host bits set. For a subnet mask of length " + std::to_string(ones) +
         " the network address is " + network.String());
  }
  if (!gateway.valid()) gateway = network.Next();
  if (range_start.valid()) {
    if (!Contains(range_start)) Fail("RangeStart " + range_start.String() + " not in network " + subnet.String());
  } else {
    range_start = network.Next();
  }
  if (range_end.valid()) {
    if (!Contains(range_end)) Fail("RangeEnd " + range_end.String() + " not in network " + subnet.String());
  } else {
    range_end = subnet.Broadcast();
    if (range_end.is4()) range_end = range_end.Prev();
  }
}

bool Range::Contains(const IP& ip) const {
  if (!ip.valid() || ip.family() != subnet.ip.family()) return false;
  if (!subnet.Contains(ip)) return false;
  if (range_start.valid() && Cmp(ip, range_start) < 0) return false;
  if (range_end.valid() && Cmp(ip, range_end) > 0) return false;
  return true;
}

bool Range::Overlaps(const Range& o) const {
  if (range_start.family() != o.range_start.family()) return false;
  return Contains(o.range_start) || Contains(o.range_end) || o.Contains(range_start) || o.Contains(range_end);
}

std::string Range::String() const { return range_start.String() + "-" + range_end.String(); }

void RangeSet::Canonicalize() {
  if (ranges.empty()) Fail("empty range set");
  int family = 0;
  for (size_t i = 0; i < ranges.size(); ++i) {
    ranges[i].Canonicalize();
    if (i == 0) {
      family = ranges[i].range_start.family();
    } else if (family != ranges[i].range_start.family()) {
      Fail("mixed address families");
    }
  }
  for (size_t i = 0; i + 1 < ranges.size(); ++i) {
    for (size_t j = i + 1; j < ranges.size(); ++j) {
      if (ranges[i].Overlaps(ranges[j])) {
        Fail("subnets " + ranges[i].String() + " and " + ranges[j].String() + " overlap");
      }
    }
  }
}

const Range* RangeSet::RangeFor(const IP& ip) const {
  for (const Range& r : ranges)
    if (r.Contains(ip)) return &r;
  return nullptr;
}

bool RangeSet::Overlaps(const RangeSet& other) const {
  for (const Range& a : ranges)
    for (const Range& b : other.ranges)
      if (a.Overlaps(b)) return true;
  return false;
}

std::string RangeSet::String() const {
  std::string s;
  for (size_t i = 0; i < ranges.size(); ++i) s += (i ? "," : "") + ranges[i].String();
  return s;
}

IpamConfig LoadIpamConfig(const Json& config, std::string_view cni_args) {
  // The reference returns plain Go errors from its config loader: every failure is code 999,
  // including JSON type mismatches that the shared decoder reports as 6.
  try {
    return LoadIpamConfigUnwrapped(config, cni_args);
  } catch (const Error& e) {
    if (e.code() == cni::kDecodingFailure) throw Error(cni::kInternal, e.msg(), e.details());
    throw;
  }
}

IpamConfig LoadIpamConfigUnwrapped(const Json& config, std::string_view cni_args) {
  IpamConfig c;
  // 1. Decode everything (Go's json.Unmarshal into the Net struct).
  Decoder net(config, "Net");
  c.name = net.String("name").value_or("");
  c.cni_version = net.String("cniVersion").value_or("");
  auto ipam_raw = cni::Field(config, "ipam");
  std::optional<RangeSet> legacy;
  if (ipam_raw) {
    if (!ipam_raw->is_object()) net.Mismatch("ipam", *ipam_raw, "allocator.IPAMConfig");
    Decoder ipam(*ipam_raw, "IPAMConfig", "ipam");
    Range r;
    r.range_start = DecodeNetIP(ipam, "rangeStart");
    r.range_end = DecodeNetIP(ipam, "rangeEnd");
    r = *DecodeSubnet(ipam, r);
    r.gateway = DecodeNetIP(ipam, "gateway");
    if (r.subnet.ip.valid()) legacy = RangeSet{{r}};
    if (auto routes = ipam.Raw("routes")) {
      if (!routes->is_array()) ipam.Mismatch("routes", *routes, "[]*types.Route");
      c.routes.emplace();
      for (const Json& rt : *routes) {
        if (!rt.is_null()) c.routes->push_back(cni::Route::FromJson(rt));
      }
    }
    if (auto d = ipam.String("dataDir"); d && !d->empty()) c.data_dir = *d;
    c.resolv_conf = ipam.String("resolvConf").value_or("");
    if (auto ranges = ipam.Raw("ranges")) c.range_sets = DecodeRangeSets(*ranges, "IPAMConfig", "ipam.ranges");
  }
  std::vector<RangeSet> runtime_ranges;
  std::vector<IP> runtime_ips;
  if (auto rc = cni::Field(config, "runtimeConfig")) {
    if (!rc->is_object()) net.Mismatch("runtimeConfig", *rc, "struct { IPRanges []allocator.RangeSet \"json:\\\"ipRanges,omitempty\\\"\"; IPs []*ip.IP \"json:\\\"ips,omitempty\\\"\" }");
    if (auto ir = cni::Field(*rc, "ipRanges")) runtime_ranges = DecodeRangeSets(*ir, "Net", "runtimeConfig.ipRanges");
    DecodeIPList(cni::Field(*rc, "ips"), "Net.runtimeConfig.ips", runtime_ips);
  }
  std::vector<IP> args_ips;
  if (auto a = cni::Field(config, "args"); a && a->is_object()) {
    if (auto cniargs = cni::Field(*a, "cni"); cniargs && cniargs->is_object()) {
      DecodeIPList(cni::Field(*cniargs, "ips"), "IPAMArgs.args.cni.ips", args_ips);
    }
  }
  if (!ipam_raw) Fail("IPAM config missing 'ipam' key");

  // 2. Requested IPs: CNI_ARGS IP, then args.cni.ips, then runtimeConfig.ips.
  if (!cni_args.empty()) {
    auto parsed = cni::CniArgs::Parse(cni_args, {"IP"}, [](std::string_view key, std::string_view value)
                                          -> std::optional<std::string> {
      if (key == "IP" && !ParseRequestedIP(value)) return "invalid IP address " + std::string(value);
      return std::nullopt;
    });
    if (auto ip = parsed.Get("IP")) c.requested.push_back(*ParseRequestedIP(*ip));
  }
  c.requested.insert(c.requested.end(), args_ips.begin(), args_ips.end());
  c.requested.insert(c.requested.end(), runtime_ips.begin(), runtime_ips.end());

  // 3. Final order: runtimeConfig.ipRanges, the legacy range, then ranges.
  if (legacy) c.range_sets.insert(c.range_sets.begin(), *legacy);
  c.range_sets.insert(c.range_sets.begin(), runtime_ranges.begin(), runtime_ranges.end());
  if (c.range_sets.empty()) Fail("no IP ranges specified");

  int v4 = 0, v6 = 0;
  for (size_t i = 0; i < c.range_sets.size(); ++i) {
    try {
      c.range_sets[i].Canonicalize();
    } catch (const Error& e) {
      Fail("invalid range set " + std::to_string(i) + ": " + e.msg());
    }
    (c.range_sets[i].ranges[0].range_start.is4() ? v4 : v6)++;
  }
  if ((v4 > 1 || v6 > 1) && (c.cni_version == "0.1.0" || c.cni_version == "0.2.0")) {
    Fail("CNI version " + c.cni_version + " does not support more than 1 address per family");
  }
  for (size_t i = 0; i + 1 < c.range_sets.size(); ++i) {
    for (size_t j = i + 1; j < c.range_sets.size(); ++j) {
      if (c.range_sets[i].Overlaps(c.range_sets[j])) {
        Fail("range set " + std::to_string(i) + " overlaps with " + std::to_string(j));
      }
    }
  }
  return c;
}

cni::DNS ParseResolvConf(const std::string& path) {
  cni::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) Fail("open " + path + ": " + cni::GoErrno(errno));
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t k = ::read(fd.get(), buf, sizeof buf);
    if (k < 0) {
      if (errno == EINTR) continue;
      Fail("read " + path + ": " + cni::GoErrno(errno));
    }
    if (k == 0) break;
    data.append(buf, static_cast<size_t>(k));
  }
  cni::DNS dns;
  size_t pos = 0;
  while (pos <= data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    std::string_view line = TrimSpace(std::string_view(data).substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    auto f = Fields(line);
    if (f.size() < 2) continue;
    if (f[0] == "nameserver") {
      dns.nameservers.emplace_back(f[1]);
    } else if (f[0] == "domain") {
      dns.domain = std::string(f[1]);
    } else if (f[0] == "search") {
      for (size_t i = 1; i < f.size(); ++i) dns.search.emplace_back(f[i]);
    } else if (f[0] == "options") {
      for (size_t i = 1; i < f.size(); ++i) dns.options.emplace_back(f[i]);
    }
  }
  return dns;
}

}  // namespace hostlocal
