// See nftwrite.h.
#include "nftwrite.h"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/x_tables.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "xt.h"

namespace cni::fw {

namespace {

constexpr uint16_t NftMsg(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }
uint8_t NfProto(Family family) { return family == Family::kIPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6; }

// The expressions of one rule, each an NFTA_LIST_ELEM of the rule's NFTA_RULE_EXPRESSIONS.
class Exprs {
 public:
  explicit Exprs(NfnlRequest& req) : req_(req) {}

  void Meta(uint32_t key) {
    size_t d = Open("meta");
    req_.PutU32(NFTA_META_DREG, NFT_REG_1).PutU32(NFTA_META_KEY, key);
    Close(d);
  }
  void Payload(uint32_t base, uint32_t offset, uint32_t len) {
    size_t d = Open("payload");
    req_.PutU32(NFTA_PAYLOAD_DREG, NFT_REG_1).PutU32(NFTA_PAYLOAD_BASE, base);
    req_.PutU32(NFTA_PAYLOAD_OFFSET, offset).PutU32(NFTA_PAYLOAD_LEN, len);
    Close(d);
  }
  void Cmp(uint32_t op, const void* data, size_t len) {
    size_t d = Open("cmp");
    req_.PutU32(NFTA_CMP_SREG, NFT_REG_1).PutU32(NFTA_CMP_OP, op);
    Value(NFTA_CMP_DATA, data, len);
    Close(d);
  }
  void Bitwise(const void* mask, size_t len) {
    size_t d = Open("bitwise");
    req_.PutU32(NFTA_BITWISE_SREG, NFT_REG_1).PutU32(NFTA_BITWISE_DREG, NFT_REG_1);
    req_.PutU32(NFTA_BITWISE_LEN, static_cast<uint32_t>(len));
    Value(NFTA_BITWISE_MASK, mask, len);
    std::string zero(len, '\0');
    Value(NFTA_BITWISE_XOR, zero.data(), len);
    Close(d);
  }
  void Range(uint32_t op, uint16_t lo, uint16_t hi) {
    size_t d = Open("range");
    req_.PutU32(NFTA_RANGE_SREG, NFT_REG_1).PutU32(NFTA_RANGE_OP, op);
    lo = htons(lo);
    hi = htons(hi);
    Value(NFTA_RANGE_FROM_DATA, &lo, sizeof lo);
    Value(NFTA_RANGE_TO_DATA, &hi, sizeof hi);
    Close(d);
  }
  void Counter() {
    size_t d = Open("counter");
    req_.PutU64(NFTA_COUNTER_BYTES, 0).PutU64(NFTA_COUNTER_PACKETS, 0);
    Close(d);
  }
  void Verdict(int32_t code, const std::string& chain) {
    size_t d = Open("immediate");
    req_.PutU32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    size_t data = req_.Begin(NFTA_IMMEDIATE_DATA);
    size_t v = req_.Begin(NFTA_DATA_VERDICT);
    req_.PutU32(NFTA_VERDICT_CODE, static_cast<uint32_t>(code));
    if (!chain.empty()) req_.PutString(NFTA_VERDICT_CHAIN, chain);
    req_.End(v);
    req_.End(data);
    Close(d);
  }
  // An xt match or target blob of xt.h as a compat expression (name, revision, info).
  void Compat(bool target, const Blob& b) {
    constexpr size_t head = sizeof(xt_entry_match);
    static_assert(head == sizeof(xt_entry_target));
    const auto* m = reinterpret_cast<const xt_entry_match*>(b.bytes.data());
    static_assert(int{NFTA_TARGET_NAME} == int{NFTA_MATCH_NAME} && int{NFTA_TARGET_REV} == int{NFTA_MATCH_REV} &&
                  int{NFTA_TARGET_INFO} == int{NFTA_MATCH_INFO});
    size_t d = Open(target ? "target" : "match");
    req_.PutString(NFTA_MATCH_NAME,
                   std::string_view(m->u.user.name, strnlen(m->u.user.name, sizeof m->u.user.name)));
    req_.PutU32(NFTA_MATCH_REV, m->u.user.revision);
    req_.Put(NFTA_MATCH_INFO, b.bytes.data() + head, b.bytes.size() - head);
    Close(d);
  }

 private:
  size_t Open(const char* name) {
    elem_ = req_.Begin(NFTA_LIST_ELEM);
    req_.PutString(NFTA_EXPR_NAME, name);
    return req_.Begin(NFTA_EXPR_DATA);
  }
  void Close(size_t data) {
    req_.End(data);
    req_.End(elem_);
  }
  void Value(uint16_t type, const void* data, size_t len) {
    size_t at = req_.Begin(type);
    req_.Put(NFTA_DATA_VALUE, data, len);
    req_.End(at);
  }

  NfnlRequest& req_;
  size_t elem_ = 0;
};

uint32_t CmpOp(bool negated) { return negated ? NFT_CMP_NEQ : NFT_CMP_EQ; }

void Iface(Exprs& e, uint32_t key, const std::string& name, bool negated) {
  e.Meta(key);
  if (name.back() == '+')
    e.Cmp(CmpOp(negated), name.data(), name.size() - 1);
  else
    e.Cmp(CmpOp(negated), name.c_str(), name.size() + 1);
}

// iptables-nft's add_addr: the leading whole bytes of the mask are compared directly; a mask
// with a partial byte (or holes) loads the full address and masks it first.
void Addr(Exprs& e, Family f, uint32_t offset, const std::string& net, bool negated) {
  uint8_t addr[16] = {}, mask[16] = {};
  NetBytes(f, net, addr, mask);
  size_t len = f == Family::kIPv4 ? 4 : 16;
  size_t i = 0;
  while (i < len && mask[i] == 0xff) ++i;
  bool bitwise = i < len && std::any_of(mask + i, mask + len, [](uint8_t b) { return b != 0; });
  if (!bitwise) len = i;
  e.Payload(NFT_PAYLOAD_NETWORK_HEADER, offset, static_cast<uint32_t>(len));
  if (bitwise) e.Bitwise(mask, len);
  e.Cmp(CmpOp(negated), addr, len);
}

void Ports(Exprs& e, uint32_t offset, const Rule::Option& o) {
  auto [lo, hi] = ParsePortRange(o.value);
  e.Payload(NFT_PAYLOAD_TRANSPORT_HEADER, offset, 2);
  if (lo == hi) {
    uint16_t p = htons(lo);
    e.Cmp(CmpOp(o.negated), &p, sizeof p);
  } else {
    e.Range(o.negated ? NFT_RANGE_NEQ : NFT_RANGE_EQ, lo, hi);
  }
}

void Match(Exprs& e, const Rule::Match& m) {
  if (m.name == "tcp" || m.name == "udp") {
    // iptables-nft's add_nft_tcpudp: two single nonzero ports negated alike are one 4-byte
    // compare; otherwise the source port first, then the destination port.
    const Rule::Option *sport = nullptr, *dport = nullptr;
    for (const Rule::Option& o : m.options) (o.name == "--sport" ? sport : dport) = &o;
    if (sport && dport && sport->negated == dport->negated) {
      auto [slo, shi] = ParsePortRange(sport->value);
      auto [dlo, dhi] = ParsePortRange(dport->value);
      if (slo != 0 && slo == shi && dlo != 0 && dlo == dhi) {
        uint32_t both = htonl(static_cast<uint32_t>(slo) << 16 | dlo);
        e.Payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 4);
        e.Cmp(CmpOp(sport->negated), &both, sizeof both);
        return;
      }
    }
    for (const char* opt : {"--sport", "--dport"}) {
      for (const Rule::Option& o : m.options) {
        if (o.name == opt) Ports(e, o.name == "--sport" ? 0 : 2, o);
      }
    }
    return;
  }
  if (m.name == "mark") {
    for (const Rule::Option& o : m.options) {  // host byte order, as iptables-nft sends them
      auto [value, mask] = MarkPair(o.value);
      e.Meta(NFT_META_MARK);
      if (mask != 0xffffffffU) e.Bitwise(&mask, sizeof mask);
      e.Cmp(CmpOp(o.negated), &value, sizeof value);
    }
    return;
  }
  e.Compat(false, EncodeMatch(m));
}

void Target(Exprs& e, Family f, const Rule& r) {
  if (r.target.empty()) return;
  if (r.target == "ACCEPT") return e.Verdict(NF_ACCEPT, "");
  if (r.target == "DROP") return e.Verdict(NF_DROP, "");
  if (r.target == "RETURN") return e.Verdict(NFT_RETURN, "");
  if (r.target == "DNAT" || r.target == "SNAT" || r.target == "MASQUERADE" || r.target == "MARK")
    return e.Compat(true, EncodeTarget(f, r));
  e.Verdict(NFT_JUMP, r.target);
}

// The handles of a chain's rules in order, from a dump served at generation `genid`.
std::optional<std::vector<uint64_t>> Handles(NfnlSocket& sock, Family family, const std::string& table,
                                             const std::string& chain, uint32_t genid) {
  NfnlRequest req(NftMsg(NFT_MSG_GETRULE), NLM_F_DUMP, NfProto(family));
  req.PutString(NFTA_RULE_TABLE, table).PutString(NFTA_RULE_CHAIN, chain);
  std::vector<uint64_t> out;
  int rc = sock.Ask(req, [&](const nlmsghdr& nh) {
    if (nh.nlmsg_type != NftMsg(NFT_MSG_NEWRULE)) return false;
    if (ntohs(NfgenOf(nh).res_id) != (genid & 0xffff)) return false;
    std::optional<uint64_t> handle;
    ForEachAttr(nh, [&](uint16_t type, const char* p, size_t len) {
      uint64_t v;
      if (type != NFTA_RULE_HANDLE || len < sizeof v) return;
      std::memcpy(&v, p, sizeof v);
      handle = be64toh(v);
    });
    if (!handle) return false;
    out.push_back(*handle);
    return true;
  });
  if (rc != 0) return std::nullopt;
  return out;
}

}  // namespace

void PutRuleExpressions(NfnlRequest& req, Family family, const Rule& r) {
  const bool v4 = family == Family::kIPv4;
  size_t list = req.Begin(NFTA_RULE_EXPRESSIONS);
  Exprs e(req);
  if (!r.in_iface.empty()) Iface(e, NFT_META_IIFNAME, r.in_iface, r.in_neg);
  if (!r.out_iface.empty()) Iface(e, NFT_META_OIFNAME, r.out_iface, r.out_neg);
  uint8_t proto = static_cast<uint8_t>(r.proto.empty() ? 0 : ProtoNumber(r.proto));
  if (proto) {
    e.Meta(NFT_META_L4PROTO);
    e.Cmp(CmpOp(r.proto_neg), &proto, 1);
  }
  if (!r.src.empty()) Addr(e, family, v4 ? 12 : 8, r.src, r.src_neg);
  if (!r.dst.empty()) Addr(e, family, v4 ? 16 : 24, r.dst, r.dst_neg);
  for (const Rule::Match& m : r.matches) Match(e, m);
  e.Counter();
  Target(e, family, r);
  req.End(list);
  size_t compat = req.Begin(NFTA_RULE_COMPAT);
  req.PutU32(NFTA_RULE_COMPAT_PROTO, proto);
  req.PutU32(NFTA_RULE_COMPAT_FLAGS, r.proto_neg ? NFT_RULE_COMPAT_F_INV : 0);
  req.End(compat);
}

BatchResult WriteBatch(NfnlSocket& sock, Family family, const std::vector<Op>& ops,
                       const std::map<std::string, TableState>& before, uint32_t genid) {
  // Handles of the rules of every chain the batch deletes single rules from, as they will be
  // when each op runs: a rule added by this batch has none yet (nullopt).
  std::map<std::pair<std::string, std::string>, std::vector<std::optional<uint64_t>>> handles;
  for (const Op& op : ops) {
    if (op.kind != Op::kDelete) continue;
    std::pair<std::string, std::string> key{op.table, op.chain};
    if (handles.count(key)) continue;
    std::optional<std::vector<uint64_t>> h = Handles(sock, family, op.table, op.chain, genid);
    if (!h) return BatchResult::kRestart;  // served from another generation, or failed
    auto t = before.find(op.table);
    const std::vector<std::string>* rules = nullptr;
    if (t != before.end()) {
      if (auto c = t->second.chains.find(op.chain); c != t->second.chains.end()) rules = &c->second;
    }
    if (!rules || rules->size() != h->size()) return BatchResult::kRestart;
    handles[key].assign(h->begin(), h->end());
  }
  std::vector<NfnlRequest> msgs;
  const uint8_t nfproto = NfProto(family);
  for (const Op& op : ops) {
    std::pair<std::string, std::string> key{op.table, op.chain};
    auto h = handles.find(key);
    switch (op.kind) {
      case Op::kNewChain: {
        NfnlRequest& m = msgs.emplace_back(NftMsg(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_EXCL, nfproto);
        m.PutString(NFTA_CHAIN_TABLE, op.table).PutString(NFTA_CHAIN_NAME, op.chain);
        break;
      }
      case Op::kAppend:
      case Op::kInsertFirst: {
        bool append = op.kind == Op::kAppend;
        NfnlRequest& m = msgs.emplace_back(NftMsg(NFT_MSG_NEWRULE),
                                           NLM_F_CREATE | (append ? NLM_F_APPEND : 0), nfproto);
        m.PutString(NFTA_RULE_TABLE, op.table).PutString(NFTA_RULE_CHAIN, op.chain);
        PutRuleExpressions(m, family, op.parsed);
        if (h != handles.end()) {
          auto& v = h->second;
          v.insert(append ? v.end() : v.begin(), std::nullopt);
        }
        break;
      }
      case Op::kDelete: {
        if (h == handles.end()) return BatchResult::kRefused;
        auto& v = h->second;
        if (op.index >= v.size() || !v[op.index]) return BatchResult::kRefused;
        NfnlRequest& m = msgs.emplace_back(NftMsg(NFT_MSG_DELRULE), 0, nfproto);
        m.PutString(NFTA_RULE_TABLE, op.table).PutString(NFTA_RULE_CHAIN, op.chain);
        m.PutU64(NFTA_RULE_HANDLE, *v[op.index]);
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(op.index));
        break;
      }
      case Op::kFlush: {
        NfnlRequest& m = msgs.emplace_back(NftMsg(NFT_MSG_DELRULE), 0, nfproto);
        m.PutString(NFTA_RULE_TABLE, op.table).PutString(NFTA_RULE_CHAIN, op.chain);
        if (h != handles.end()) h->second.clear();
        break;
      }
      case Op::kDeleteChain: {
        NfnlRequest& m = msgs.emplace_back(NftMsg(NFT_MSG_DELCHAIN), 0, nfproto);
        m.PutString(NFTA_CHAIN_TABLE, op.table).PutString(NFTA_CHAIN_NAME, op.chain);
        if (h != handles.end()) handles.erase(h);
        break;
      }
    }
  }
  int rc = sock.Batch(msgs, genid);
  if (rc == 0) return BatchResult::kCommitted;
  if (rc == ERESTART) return BatchResult::kRestart;
  return rc < 0 ? BatchResult::kUnknown : BatchResult::kRefused;
}

}  // namespace cni::fw
