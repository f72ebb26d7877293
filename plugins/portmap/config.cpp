// portmap configuration parsing. See config.h.
#include "config.h"

#include "cni/error.h"
#include "cni/fw/fw.h"
#include "cni/fw/nft.h"
#include "cni/json.h"

namespace portmap {

namespace {

[[noreturn]] void Fail(std::string msg) { throw cni::Error(cni::kInternal, std::move(msg)); }

std::optional<std::vector<std::string>> Conditions(const cni::Decoder& d, std::string_view key) {
  return d.StringList(key);
}

}  // namespace

bool IsIptablesConditions(const std::vector<std::string>& conditions) {
  return !conditions.empty() && !conditions[0].empty() &&
         (conditions[0][0] == '-' || conditions[0][0] == '!');
}

Config ParseConfig(const cni::CallArgs& args) {
  Config c;
  c.cni_version = args.cni_version;
  c.name = args.name;
  c.container_id = args.container_id;
  try {
    cni::Decoder d(args.config, "PortMapConf");
    if (auto v = d.Bool("snat")) c.snat = *v;
    if (auto v = d.Bool("masqAll")) c.masq_all = *v;
    std::optional<int64_t> bit = d.Int("markMasqBit");
    c.external_set_mark_chain = d.String("externalSetMarkChain");
    c.conditions_v4 = Conditions(d, "conditionsV4");
    c.conditions_v6 = Conditions(d, "conditionsV6");
    c.backend = d.String("backend");
    if (auto rc = d.Object("runtimeConfig", "struct { PortMaps []main.PortMapEntry \"json:\\\"portMappings,omitempty\\\"\" }")) {
      if (auto maps = rc->Raw("portMappings")) {
        if (!maps->is_array())
          d.Mismatch("runtimeConfig.portMappings", *maps, "[]main.PortMapEntry");
        for (const cni::Json& e : *maps) {
          if (!e.is_object()) d.Mismatch("runtimeConfig.portMappings", e, "main.PortMapEntry");
          cni::Decoder m(e, "PortMapConf", "runtimeConfig.portMappings.");
          PortMapping pm;
          pm.host_port = static_cast<int>(m.Int("hostPort").value_or(0));
          pm.container_port = static_cast<int>(m.Int("containerPort").value_or(0));
          pm.protocol = m.String("protocol").value_or("");
          pm.host_ip = m.String("hostIP").value_or("");
          c.mappings.push_back(std::move(pm));
        }
      }
    }
    if (bit && c.external_set_mark_chain)
      Fail("Cannot specify externalSetMarkChain and markMasqBit");
    if (bit) {
      if (*bit < 0 || *bit > 31) Fail("MasqMarkBit must be between 0 and 31");
      c.mark_masq_bit = static_cast<int>(*bit);
    }
  } catch (const cni::Error& e) {
    // The reference returns these as plain Go errors, which skel reports as code 999.
    if (e.msg().starts_with("json: ")) throw cni::Error(cni::kInternal, "failed to parse network configuration: " + e.msg());
    throw;
  }
  for (const PortMapping& pm : c.mappings) {
    if (pm.container_port <= 0) Fail("Invalid container port number: " + std::to_string(pm.container_port));
    if (pm.host_port <= 0) Fail("Invalid host port number: " + std::to_string(pm.host_port));
  }
  try {
    c.prev_result = args.PrevResult();
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInternal, "could not parse prevResult: " + e.msg());
  }
  if (c.prev_result) {
    const cni::Result& r = *c.prev_result;
    for (const cni::IPConfig& ip : r.ips) {
      bool v4 = ip.address.ip.is4();
      if ((v4 && c.cont_v4) || (!v4 && c.cont_v6)) continue;
      if (ip.interface) {
        int idx = *ip.interface;
        if (idx >= 0 && idx < static_cast<int>(r.interfaces.size()) &&
            (r.interfaces[static_cast<size_t>(idx)].name != args.ifname ||
             r.interfaces[static_cast<size_t>(idx)].sandbox.empty()))
          continue;
      }
      (v4 ? c.cont_v4 : c.cont_v6) = ip.address;
    }
  }
  return c;
}

Backend ChooseBackend(const Config& c) {
  std::vector<std::string> ipt_opts, nft_opts;
  if (c.external_set_mark_chain) ipt_opts.push_back("externalSetMarkChain");
  auto classify = [&](const std::optional<std::vector<std::string>>& cond, const char* key) {
    if (!cond || cond->empty()) return;
    (IsIptablesConditions(*cond) ? ipt_opts : nft_opts).push_back(key);
  };
  classify(c.conditions_v4, "conditionsV4");
  classify(c.conditions_v6, "conditionsV6");
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
    return s + "]";
  };
  Backend b;
  if (c.backend && *c.backend == "iptables") {
    b = Backend::kIptables;
  } else if (c.backend && *c.backend == "nftables") {
    b = Backend::kNftables;
  } else if (c.backend && !c.backend->empty()) {
    Fail("unrecognized backend \"" + *c.backend + "\"");
  } else if (!ipt_opts.empty()) {
    b = Backend::kIptables;
  } else if (!nft_opts.empty()) {
    b = Backend::kNftables;
  } else {
    // iptables unless it is unusable and nftables is usable (checked without running iptables).
    b = (cni::fw::IptablesUsable() || !cni::fw::Nft::Usable()) ? Backend::kIptables
                                                                 : Backend::kNftables;
  }
  if (b == Backend::kIptables && !nft_opts.empty())
    Fail("iptables backend was requested but configuration contains nftables-specific options " + list(nft_opts));
  if (b == Backend::kNftables && !ipt_opts.empty())
    Fail("nftables backend was requested but configuration contains iptables-specific options " + list(ipt_opts));
  return b;
}

}  // namespace portmap
