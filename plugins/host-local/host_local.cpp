// host-local commands. See host_local.h.
#include "host_local.h"

#include <set>
#include <utility>

#include "allocator.h"
#include "cni/error.h"
#include "config.h"
#include "store.h"

namespace hostlocal {
namespace {

using cni::Error;
using cni::IP;

[[noreturn]] void Fail(std::string msg) { throw Error(cni::kInternal, std::move(msg)); }

void ReleaseAll(Store& store, size_t count, const cni::CallArgs& args) {
  for (size_t i = 0; i < count; ++i) {
    try {
      store.ReleaseByID(args.container_id, args.ifname);
    } catch (const Error&) {
      // best effort, as the reference
    }
  }
}

// Addresses a range set can hand out: the sizes of its windows minus gateways inside them.
U128 Capacity(const RangeSet& set) {
  U128 total = 0;
  const U128 kMax = ~static_cast<U128>(0);
  for (const Range& r : set.ranges) {
    U128 span = IpValue(r.range_end) - IpValue(r.range_start);
    U128 n = span == kMax ? kMax : span + 1;
    if (r.Contains(r.gateway)) n -= 1;
    total = (kMax - total < n) ? kMax : total + n;
  }
  return total;
}

struct Attachments {
  std::set<std::pair<std::string, std::string>> pairs;
  std::set<std::string> ids;
};

// cni.dev/valid-attachments (spec HEAD), else cni.dev/attachments (spec 1.1.0); when neither is
// present nothing is valid (libcni's GC of a network with no attachment sends none).
Attachments ValidAttachments(const cni::Json& config) {
  auto raw = cni::Field(config, "cni.dev/valid-attachments");
  if (!raw) raw = cni::Field(config, "cni.dev/attachments");
  Attachments out;
  if (!raw) return out;
  if (!raw->is_array()) {
    Fail("json: cannot unmarshal " + cni::GoJsonType(*raw) + " into Go struct field NetConf.cni.dev/valid-attachments of type []types.GCAttachment");
  }
  for (const cni::Json& a : *raw) {
    if (!a.is_object()) Fail("json: cannot unmarshal " + cni::GoJsonType(a) + " into Go value of type types.GCAttachment");
    cni::Decoder d(a, "GCAttachment");
    std::string id(TrimSpace(d.String("containerID").value_or("")));
    std::string ifname = d.String("ifname").value_or("");
    out.ids.insert(id);
    out.pairs.emplace(std::move(id), std::move(ifname));
  }
  return out;
}

bool Valid(const Attachments& valid, const std::string& owner) {
  if (owner.empty()) return false;
  size_t sep = owner.find("\r\n");
  if (sep == std::string::npos) return valid.ids.count(owner) > 0;  // legacy: id only
  return valid.pairs.count({owner.substr(0, sep), owner.substr(sep + 2)}) > 0;
}

}  // namespace

cni::Result CmdAdd(const cni::CallArgs& args) {
  IpamConfig conf = LoadIpamConfig(args.config, args.args);
  cni::Result result;
  result.cni_version = args.cni_version;
  if (!conf.resolv_conf.empty()) result.dns = ParseResolvConf(conf.resolv_conf);

  Store store(conf.data_dir, conf.name);
  // The reference keeps requested IPs in a map keyed by the address string; the set sent to a
  // range is the first that it contains. Go map order is random: weft takes request order.
  std::vector<IP> requested;
  for (const IP& ip : conf.requested) {
    bool dup = false;
    for (const IP& r : requested) dup = dup || r == ip;
    if (!dup) requested.push_back(ip);
  }
  for (size_t idx = 0; idx < conf.range_sets.size(); ++idx) {
    const RangeSet& set = conf.range_sets[idx];
    std::optional<IP> want;
    for (auto it = requested.begin(); it != requested.end(); ++it) {
      if (set.Contains(*it)) {
        want = *it;
        requested.erase(it);
        break;
      }
    }
    try {
      result.ips.push_back(Allocator(set, store, static_cast<int>(idx)).Get(args.container_id, args.ifname, want));
    } catch (const Error& e) {
      ReleaseAll(store, idx, args);
      Fail("failed to allocate for range " + std::to_string(idx) + ": " + e.msg());
    }
  }
  if (!requested.empty()) {
    ReleaseAll(store, conf.range_sets.size(), args);
    std::string msg = "failed to allocate all requested IPs:";
    for (const IP& ip : requested) msg += " " + ip.String();
    Fail(msg);
  }
  if (conf.routes) result.routes = *conf.routes;
  return result;
}

void CmdDel(const cni::CallArgs& args) {
  IpamConfig conf = LoadIpamConfig(args.config, args.args);
  Store store(conf.data_dir, conf.name);
  std::string errors;
  for (size_t idx = 0; idx < conf.range_sets.size(); ++idx) {
    try {
      Allocator(conf.range_sets[idx], store, static_cast<int>(idx)).Release(args.container_id, args.ifname);
    } catch (const Error& e) {
      errors += (errors.empty() ? "" : ";") + e.msg();
    }
  }
  if (!errors.empty()) Fail(errors);
}

void CmdCheck(const cni::CallArgs& args) {
  IpamConfig conf = LoadIpamConfig(args.config, args.args);
  Store store(conf.data_dir, conf.name);
  if (!store.FindByID(args.container_id, args.ifname)) {
    Fail("host-local: Failed to find address added by container " + args.container_id);
  }
}

void CmdGc(const cni::CallArgs& args) {
  IpamConfig conf = LoadIpamConfig(args.config, args.args);
  Attachments valid = ValidAttachments(args.config);
  Store store(conf.data_dir, conf.name);
  cni::ErrorList errors;
  for (const Reservation& r : store.Scan()) {
    if (!Valid(valid, r.owner)) errors.Try([&] { store.Release(r); });
  }
  store.Commit();
  errors.ThrowIfAny();
}

void CmdStatus(const cni::CallArgs& args) {
  IpamConfig conf = LoadIpamConfig(args.config, args.args);
  std::vector<IP> reserved;
  try {
    Store store(conf.data_dir, conf.name);
    store.CheckWritable();
    reserved = store.ReservedIPs();
  } catch (const Error& e) {
    throw Error(cni::kNotAvailable, "host-local store is not usable: " + e.msg());
  }
  for (const RangeSet& set : conf.range_sets) {
    U128 used = 0;
    for (const IP& ip : reserved) used += set.Contains(ip) ? 1 : 0;
    if (used >= Capacity(set)) {
      throw Error(cni::kNotAvailable, "no IP addresses available in range set: " + set.String());
    }
  }
}

cni::PluginFuncs Funcs() {
  cni::PluginFuncs f;
  f.add = CmdAdd;
  f.del = CmdDel;
  f.check = CmdCheck;
  f.gc = CmdGc;
  f.status = CmdStatus;
  return f;
}

}  // namespace hostlocal
