// Parsing iptables argument vectors into fw::Rule and printing the canonical iptables-save form.
// Only the options weft's plugins and their users' conditions need are known: addresses,
// interfaces, protocol, the tcp/udp/sctp, comment, multiport, addrtype, mark and conntrack
// matches, and the ACCEPT/DROP/RETURN/DNAT/SNAT/MASQUERADE/MARK targets or a jump to a chain;
// anything else, and any value the writers could not encode, is refused here (CheckWritable).
// The printing follows iptables 1.8.9's save functions (e.g. "-p tcp -m tcp --dport 80",
// "--dports" for multiport, xtables_save_string quoting of comments, hex marks), so a rule
// built from the reference's arguments compares equal to the line iptables-save shows for it.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cni/error.h"
#include "cni/fw/fw.h"
#include "xt.h"

namespace cni::fw {

namespace {

[[noreturn]] void Fail(const std::string& msg) { throw Error(kInternal, msg); }

// "10.1.2.3/24" or "10.1.2.3" -> "10.1.2.0/24" / "10.1.2.3/32" (iptables masks the address).
std::string CanonicalNet(Family family, std::string_view text) {
  std::string addr(text);
  int bits = family == Family::kIPv4 ? 32 : 128;
  int prefix = bits;
  if (size_t slash = addr.find('/'); slash != std::string::npos) {
    std::string p = addr.substr(slash + 1);
    addr.resize(slash);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
      Fail("invalid mask `" + std::string(text) + "' specified");
    prefix = std::stoi(p);
    if (prefix > bits) Fail("invalid mask `" + std::string(text) + "' specified");
  }
  uint8_t buf[16] = {};
  int af = family == Family::kIPv4 ? AF_INET : AF_INET6;
  if (inet_pton(af, addr.c_str(), buf) != 1) Fail("host/network `" + addr + "' not found");
  for (int i = 0; i < bits / 8; ++i) {
    int keep = prefix - i * 8;
    if (keep >= 8) continue;
    buf[i] = static_cast<uint8_t>(keep <= 0 ? 0 : buf[i] & (0xff << (8 - keep)));
  }
  if (prefix == 0) return "";  // 0.0.0.0/0 and ::/0 match anything: iptables prints nothing
  char out[INET6_ADDRSTRLEN];
  inet_ntop(af, buf, out, sizeof out);
  return std::string(out) + "/" + std::to_string(prefix);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ProtoName(std::string p) {
  for (char& c : p) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (p == "6") return "tcp";
  if (p == "17") return "udp";
  if (p == "132") return "sctp";
  if (p == "1") return "icmp";
  return p;
}

// Canonical option name for a match, or "" when the match does not take `opt`.
std::string MatchOption(const std::string& match, const std::string& opt) {
  if (match == "tcp" || match == "udp" || match == "sctp") {
    if (opt == "--dport" || opt == "--destination-port") return "--dport";
    if (opt == "--sport" || opt == "--source-port") return "--sport";
  } else if (match == "comment") {
    if (opt == "--comment") return opt;
  } else if (match == "multiport") {
    if (opt == "--dports" || opt == "--destination-ports") return "--dports";
    if (opt == "--sports" || opt == "--source-ports") return "--sports";
    if (opt == "--ports") return opt;
  } else if (match == "addrtype") {
    if (opt == "--dst-type" || opt == "--src-type") return opt;
    if (opt == "--limit-iface-in" || opt == "--limit-iface-out") return opt;
  } else if (match == "mark") {
    if (opt == "--mark") return opt;
  } else if (match == "conntrack") {
    if (opt == "--ctstate") return opt;
  }
  return "";
}

bool IsFlag(const std::string& opt) {
  return opt == "--limit-iface-in" || opt == "--limit-iface-out" || opt == "--random-fully";
}

// The target options weft's rules use; iptables knows more (--random, --to-ports, --and-mark...)
// but the writers only produce, and the readers only recognise, these.
std::string TargetOption(const std::string& target, const std::string& opt) {
  if (target == "DNAT" && (opt == "--to-destination" || opt == "--to")) return "--to-destination";
  if (target == "SNAT" && (opt == "--to-source" || opt == "--to")) return "--to-source";
  if (target == "MASQUERADE" && opt == "--random-fully") return opt;
  if (target == "MARK" && (opt == "--set-xmark" || opt == "--set-mark")) return opt;
  return "";
}

std::string CanonicalValue(const std::string& match, const std::string& opt, std::string v) {
  if (match == "mark" && opt == "--mark") {
    auto [val, mask] = MarkPair(v);
    return mask == 0xffffffffU ? Hex(val) : Hex(val) + "/" + Hex(mask);
  }
  if (match == "addrtype") return Upper(v);
  if (match == "conntrack") return Upper(v);
  return v;
}

// xtables_save_string: bare when only [_-0-9A-Za-z], else double-quoted with \ " ' escaped.
std::string SaveString(const std::string& v) {
  static constexpr std::string_view kBare =
      "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  if (!v.empty() && v.find_first_not_of(kBare) == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool PlainChars(std::string_view v) {
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '\'' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void CheckChainName(std::string_view name) {
  if (name.empty() || name.size() > 28 || name[0] == '-' || name[0] == '!' || !PlainChars(name))
    Fail("invalid chain name \"" + std::string(name) + "\"");
}

void CheckInterfaceName(std::string_view name) {
  if (name.empty() || name.size() > 15 || !PlainChars(name) || name.find('/') != std::string_view::npos)
    Fail("invalid interface name \"" + std::string(name) + "\"");
}

Rule Rule::Parse(Family family, std::span<const std::string> args) {
  Rule r;
  bool neg = false;
  // Where "--xyz" options go: the last -m match, or the target after -j.
  enum class Ctx { kNone, kMatch, kTarget } ctx = Ctx::kNone;
  auto value = [&](size_t& i) -> const std::string& {
    if (i + 1 >= args.size()) Fail("option \"" + args[i] + "\" requires an argument");
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "!") {
      neg = true;
      continue;
    }
    if (a == "-s" || a == "--source" || a == "--src") {
      r.src = CanonicalNet(family, value(i));
      r.src_neg = neg;
    } else if (a == "-d" || a == "--destination" || a == "--dst") {
      r.dst = CanonicalNet(family, value(i));
      r.dst_neg = neg;
    } else if (a == "-i" || a == "--in-interface") {
      r.in_iface = value(i);
      CheckInterfaceName(r.in_iface);
      r.in_neg = neg;
    } else if (a == "-o" || a == "--out-interface") {
      r.out_iface = value(i);
      CheckInterfaceName(r.out_iface);
      r.out_neg = neg;
    } else if (a == "-p" || a == "--protocol") {
      r.proto = ProtoName(value(i));
      r.proto_neg = neg;
    } else if (a == "-m" || a == "--match") {
      r.matches.push_back({value(i), {}});
      ctx = Ctx::kMatch;
    } else if (a == "-j" || a == "--jump") {
      r.target = value(i);
      CheckChainName(r.target);
      ctx = Ctx::kTarget;
    } else if (a.starts_with("--")) {
      std::string canon;
      Match* m = nullptr;
      if (ctx == Ctx::kTarget) canon = TargetOption(r.target, a);
      if (canon.empty() && !r.matches.empty()) {
        m = &r.matches.back();
        canon = MatchOption(m->name, a);
      }
      if (canon.empty() && !r.proto.empty()) {
        // iptables loads the protocol's match implicitly for --dport/--sport.
        canon = MatchOption(r.proto, a);
        if (!canon.empty()) {
          auto it = std::find_if(r.matches.begin(), r.matches.end(),
                                 [&](const Match& x) { return x.name == r.proto; });
          if (it == r.matches.end()) {
            r.matches.push_back({r.proto, {}});
            it = r.matches.end() - 1;
          }
          m = &*it;
        }
      }
      if (canon.empty()) Fail("unknown option \"" + a + "\"");
      std::string v = IsFlag(canon) ? "" : value(i);
      if (ctx == Ctx::kTarget && m == nullptr) {
        if (canon == "--set-mark" || canon == "--set-xmark") {
          auto [val, mask] = MarkPair(v);
          if (canon == "--set-mark" && mask != 0xffffffffU) mask |= val;
          r.target_options.push_back({"--set-xmark", Hex(val) + "/" + Hex(mask), false});
        } else {
          r.target_options.push_back({canon, v, neg});
        }
      } else {
        m->options.push_back({canon, CanonicalValue(m->name, canon, v), neg});
      }
    } else {
      Fail("bad argument \"" + a + "\"");
    }
    neg = false;
  }
  CheckWritable(family, r);
  return r;
}

std::string Rule::Canonical() const {
  std::string out;
  auto add = [&](bool negated, std::string_view opt, const std::string& v) {
    if (!out.empty()) out += ' ';
    if (negated) out += "! ";
    out += opt;
    if (!v.empty()) {
      out += ' ';
      out += v;
    }
  };
  if (!src.empty()) add(src_neg, "-s", src);
  if (!dst.empty()) add(dst_neg, "-d", dst);
  if (!in_iface.empty()) add(in_neg, "-i", in_iface);
  if (!out_iface.empty()) add(out_neg, "-o", out_iface);
  if (!proto.empty()) add(proto_neg, "-p", proto);
  for (const Match& m : matches) {
    add(false, "-m", m.name);
    std::vector<Option> opts = m.options;
    if (m.name == "addrtype") {  // saved as --src-type before --dst-type
      std::stable_sort(opts.begin(), opts.end(),
                       [](const Option& a, const Option& b) { return a.name > b.name; });
    }
    for (const Option& o : opts) add(o.negated, o.name, m.name == "comment" ? SaveString(o.value) : o.value);
  }
  if (!target.empty()) add(false, "-j", target);
  for (const Option& o : target_options) add(o.negated, o.name, o.value);
  return out;
}

std::string_view BackendName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kIptablesLegacy: return "iptables-legacy";
    case BackendKind::kIptablesNft: return "iptables-nft";
    case BackendKind::kNftables: return "nftables";
  }
  return "";
}

}  // namespace cni::fw
