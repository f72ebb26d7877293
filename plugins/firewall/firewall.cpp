// firewall commands and config. See firewall.h.
#include "firewall.h"

#include <algorithm>
#include <memory>

#include "cni/error.h"
#include "cni/fw/firewalld.h"
#include "cni/json.h"

namespace firewall {

namespace {

using cni::Error;
using cni::fw::Args;
using cni::fw::Chain;
using cni::fw::Family;

[[noreturn]] void Fail(std::string msg) { throw Error(cni::kInternal, std::move(msg)); }

constexpr const char* kForwardChain = "CNI-FORWARD";
constexpr const char* kStage1 = "CNI-ISOLATION-STAGE-1";
constexpr const char* kStage2 = "CNI-ISOLATION-STAGE-2";
constexpr const char* kRulesComment = "CNI firewall plugin rules";
constexpr const char* kAdminComment = "CNI firewall plugin admin overrides";
constexpr const char* kIsolationComment = "CNI firewall plugin rules (ingressPolicy: same-bridge)";

Family FamilyOf(const cni::IP& ip) { return ip.is6() ? Family::kIPv6 : Family::kIPv4; }

// The reference's per-address rules: replies to the container, and everything from it.
std::vector<Args> AddressRules(const cni::Result& r, Family family) {
  std::vector<Args> rules;
  for (const cni::IPConfig& ip : r.ips) {
    if (FamilyOf(ip.address.ip) != family) continue;
    std::string a = ip.address.ip.String() + (ip.address.ip.is6() ? "/128" : "/32");
    rules.push_back({"-d", a, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"});
    rules.push_back({"-s", a, "-j", "ACCEPT"});
  }
  return rules;
}

Args Comment(Args rule, const char* comment) {
  rule.insert(rule.end(), {"-m", "comment", "--comment", comment});
  return rule;
}

Args JumpRule(const char* comment, const std::string& target) {
  return {"-m", "comment", "--comment", comment, "-j", target};
}

// Go's %v of a []string.
std::string GoStrings(const Args& a) {
  std::string s = "[";
  for (size_t i = 0; i < a.size(); ++i) s += (i ? " " : "") + a[i];
  return s + "]";
}

std::vector<Family> Families(const cni::Result& r) {
  std::vector<Family> out;
  for (Family f : {Family::kIPv4, Family::kIPv6}) {
    for (const cni::IPConfig& ip : r.ips) {
      if (FamilyOf(ip.address.ip) == f) {
        out.push_back(f);
        break;
      }
    }
  }
  return out;
}

// The backend the reference picks: "iptables", "firewalld", or else firewalld when it is running
// and iptables otherwise. weft has no firewalld backend: ADD and CHECK say so; DEL goes on with
// iptables (which removes nothing weft did not add), so a runtime's cleanup never gets stuck.
std::unique_ptr<cni::fw::Backend> Backend(const Config& c, bool del = false) {
  const char* kWhy = "weft's firewall plugin has no firewalld backend (no firewalld was available to test "
                     "it against); set \"backend\": \"iptables\" to use iptables";
  if (!del && c.backend == "firewalld") Fail(std::string("the firewalld backend is not supported: ") + kWhy);
  if (!del && c.backend != "iptables" && cni::fw::FirewalldRunning()) {
    Fail(std::string("firewalld is running (org.fedoraproject.FirewallD1 on the system bus), which the "
                     "reference would use, but ") + kWhy);
  }
  return cni::fw::MakeIptablesBackend(cni::fw::DetectIptablesKind());
}

// The bridge for same-bridge isolation ("" for the open policy), or the reference's error.
std::string IsolationBridge(const Config& c, const cni::Result& r) {
  if (c.ingress_policy.empty() || c.ingress_policy == "open") return "";
  if (c.ingress_policy != "same-bridge") Fail("unknown ingress policy: \"" + c.ingress_policy + "\"");
  if (r.interfaces.empty()) {
    Fail("interface needs to be set for ingress policy \"same-bridge\", make sure to chain \"firewall\" plugin "
         "with \"bridge\"");
  }
  if (r.interfaces[0].name.empty()) Fail("got empty bridge name");
  cni::fw::CheckInterfaceName(r.interfaces[0].name);
  return r.interfaces[0].name;
}

void CheckPolicy(const Config& c) {
  if (!c.ingress_policy.empty() && c.ingress_policy != "open" && c.ingress_policy != "same-bridge")
    Fail("unknown ingress policy: \"" + c.ingress_policy + "\"");
}

}  // namespace

Config ParseConfig(const cni::CallArgs& args) {
  Config c;
  try {
    cni::Decoder d(args.config, "FirewallNetConf");
    c.backend = d.String("backend").value_or("");
    if (auto v = d.String("iptablesAdminChainName"); v && !v->empty()) c.admin_chain = *v;
    if (auto v = d.String("firewalldZone"); v && !v->empty()) c.firewalld_zone = *v;
    c.ingress_policy = d.String("ingressPolicy").value_or("");
  } catch (const Error& e) {
    Fail("failed to load netconf: " + e.msg());
  }
  // Checked here, before any transaction: the name is written into iptables-restore scripts.
  try {
    cni::fw::CheckChainName(c.admin_chain);
  } catch (const Error& e) {
    Fail("iptablesAdminChainName: " + e.msg());
  }
  try {
    c.prev_result = args.PrevResult();
  } catch (const Error& e) {
    Fail("could not parse prevResult: " + e.msg());
  }
  return c;
}

std::vector<Chain> AddChains(const Config& c, const cni::Result& r, Family family, const std::string& bridge) {
  std::vector<Args> rules = AddressRules(r, family);
  if (rules.empty()) return {};
  std::vector<Chain> chains;
  Chain fwd;
  fwd.table = "filter";
  fwd.name = kForwardChain;
  fwd.entry_chains = {"FORWARD"};
  fwd.entry_rules = {{"-m", "comment", "--comment", kRulesComment}};
  fwd.prepend_entry = true;
  fwd.rules = std::move(rules);
  fwd.teardown = cni::fw::TeardownPolicy::kRulesOnly;
  chains.push_back(std::move(fwd));

  Chain admin;
  admin.table = "filter";
  admin.name = c.admin_chain;
  admin.entry_chains = {kForwardChain};
  admin.entry_rules = {{"-m", "comment", "--comment", kAdminComment}};
  admin.prepend_entry = true;
  admin.teardown = cni::fw::TeardownPolicy::kNever;
  chains.push_back(std::move(admin));

  if (!bridge.empty()) {
    Chain s1;
    s1.table = "filter";
    s1.name = kStage1;
    s1.entry_chains = {"FORWARD"};
    s1.entry_rules = {{"-m", "comment", "--comment", kIsolationComment}};
    s1.prepend_entry = true;
    s1.rules = {Comment({"-j", "RETURN"}, kIsolationComment)};
    s1.teardown = cni::fw::TeardownPolicy::kNever;
    chains.push_back(std::move(s1));

    Chain s2;
    s2.table = "filter";
    s2.name = kStage2;
    s2.entry_chains = {kStage1};
    s2.entry_rules = {Comment({"-i", bridge, "!", "-o", bridge}, kIsolationComment)};
    s2.prepend_entry = true;
    s2.head_rules = {Comment({"-o", bridge, "-j", "DROP"}, kIsolationComment)};
    s2.rules = {Comment({"-j", "RETURN"}, kIsolationComment)};
    s2.teardown = cni::fw::TeardownPolicy::kNever;
    chains.push_back(std::move(s2));
  }
  return chains;
}

cni::Result Add(const cni::CallArgs& args) {
  Config c = ParseConfig(args);
  if (!c.prev_result) Fail("missing prevResult from earlier plugin");
  const cni::Result& r = *c.prev_result;
  std::unique_ptr<cni::fw::Backend> ipt = Backend(c);
  // Checked before any rule is written (the reference writes the per-address rules first).
  std::string bridge = IsolationBridge(c, r);
  for (Family f : Families(r)) {
    std::vector<Chain> chains = AddChains(c, r, f, bridge);
    ipt->Ensure(f, chains);
  }
  return r;
}

void Del(const cni::CallArgs& args) {
  Config c = ParseConfig(args);
  std::unique_ptr<cni::fw::Backend> ipt = Backend(c, true);
  cni::ErrorList errors;
  if (c.prev_result) {
    for (Family f : Families(*c.prev_result)) {
      errors.Try([&] {
        if (!ipt->Usable(f)) return;  // nothing of ours can be there
        Chain fwd;
        fwd.table = "filter";
        fwd.name = kForwardChain;
        fwd.rules = AddressRules(*c.prev_result, f);
        fwd.teardown = cni::fw::TeardownPolicy::kRulesOnly;
        ipt->Remove(f, std::span(&fwd, 1));
      });
    }
  }
  // The isolation chains stay: other containers on the bridge may still need them.
  errors.Try([&] { CheckPolicy(c); });
  errors.ThrowIfAny();
}

void Check(const cni::CallArgs& args) {
  Config c = ParseConfig(args);
  if (!c.prev_result) Fail("missing prevResult from earlier plugin");
  std::unique_ptr<cni::fw::Backend> ipt = Backend(c);
  const Args fwd_jump = JumpRule(kRulesComment, kForwardChain);
  const Args admin_jump = JumpRule(kAdminComment, c.admin_chain);
  for (Family f : Families(*c.prev_result)) {
    auto table = ipt->List(f, "filter");
    auto has = [&](const std::string& chain, const Args& rule) {
      auto it = table.find(chain);
      if (it == table.end()) return false;
      std::string want = cni::fw::Rule::Parse(f, rule).Canonical();
      return std::find(it->second.begin(), it->second.end(), want) != it->second.end();
    };
    if (!has("FORWARD", fwd_jump)) Fail("expected FORWARD rule " + GoStrings(fwd_jump) + " not found");
    if (!has(kForwardChain, admin_jump))
      Fail(std::string("expected ") + kForwardChain + " rule " + GoStrings(admin_jump) + " not found");
    for (const Args& rule : AddressRules(*c.prev_result, f)) {
      if (!has(kForwardChain, rule)) Fail("expected rule " + GoStrings(rule) + " not found");
    }
  }
}

cni::PluginFuncs Funcs() {
  cni::PluginFuncs f;
  f.add = Add;
  f.del = Del;
  f.check = Check;
  f.min_version = "0.4.0";
  return f;
}

}  // namespace firewall
