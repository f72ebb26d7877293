// The iptables-legacy backend: libiptc in-process. One call = /run/xtables.lock taken with a
// bounded wait (the iptables CLI, kube-proxy and other CNI plugins take the same lock, so nobody
// races us between read and commit; the libiptc HOWTO warns it does no locking itself), one
// iptc_init per table, the operations of plan.h on that handle, one iptc_commit. A lock that
// stays busy fails with CNI code 11 (try again later) instead of hanging the runtime.
// Entries carry the extension payloads of xt.h (the revisions iptables 1.8.9 picks) and are
// decoded back into canonical text to read the tables, so "already there?" is the same
// comparison as on the other backends. Rules of extensions we don't know are kept as opaque
// text: never equal to ours, never touched except by chain target.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libiptc/libiptc.h>
extern "C" {  // libip6tc.h, unlike libiptc.h, has no C++ guard
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
#define _Bool bool  // the header's inline helpers are C
#include <linux/netfilter/xt_sctp.h>
#undef _Bool
#include <linux/netfilter/xt_tcpudp.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cni/error.h"
#include "cni/files.h"
#include "plan.h"
#include "xt.h"

namespace cni::fw {

namespace {

// Decodes one match into canonical options; unknown matches become an opaque marker.
Rule::Match DecodeMatch(const xt_entry_match* m) {
  Rule::Match out{m->u.user.name, {}};
  const std::string& n = out.name;
  const uint8_t rev = m->u.user.revision;
  auto ports = [&](const uint16_t* spts, const uint16_t* dpts, bool sinv, bool dinv) {
    if (spts[0] != 0 || spts[1] != 0xffff) out.options.push_back({"--sport", PortRange(spts[0], spts[1]), sinv});
    if (dpts[0] != 0 || dpts[1] != 0xffff) out.options.push_back({"--dport", PortRange(dpts[0], dpts[1]), dinv});
  };
  if (n == "tcp" && rev == 0) {
    const auto* t = reinterpret_cast<const xt_tcp*>(m->data);
    ports(t->spts, t->dpts, t->invflags & XT_TCP_INV_SRCPT, t->invflags & XT_TCP_INV_DSTPT);
    if (t->option || t->flg_mask) out.options.push_back({"--opaque", "tcp-flags", false});
  } else if (n == "udp" && rev == 0) {
    const auto* u = reinterpret_cast<const xt_udp*>(m->data);
    ports(u->spts, u->dpts, u->invflags & XT_UDP_INV_SRCPT, u->invflags & XT_UDP_INV_DSTPT);
  } else if (n == "sctp" && rev == 0) {
    const auto* s = reinterpret_cast<const xt_sctp_info*>(m->data);
    if (s->flags & XT_SCTP_SRC_PORTS) out.options.push_back({"--sport", PortRange(s->spts[0], s->spts[1]), (s->invflags & XT_SCTP_SRC_PORTS) != 0});
    if (s->flags & XT_SCTP_DEST_PORTS) out.options.push_back({"--dport", PortRange(s->dpts[0], s->dpts[1]), (s->invflags & XT_SCTP_DEST_PORTS) != 0});
    if (s->flags & XT_SCTP_CHUNK_TYPES) out.options.push_back({"--opaque", "chunk-types", false});
  } else if (n == "comment") {
    const auto* c = reinterpret_cast<const xt_comment_info*>(m->data);
    out.options.push_back({"--comment", std::string(c->comment, strnlen(c->comment, XT_MAX_COMMENT_LEN)), false});
  } else if (n == "multiport" && rev == 1) {
    const auto* mp = reinterpret_cast<const xt_multiport_v1*>(m->data);
    std::string list;
    for (unsigned i = 0; i < mp->count && i < XT_MULTI_PORTS; ++i) {
      list += list.empty() ? "" : ",";
      list += std::to_string(mp->ports[i]);
      if (mp->pflags[i] && i + 1 < mp->count) list += ":" + std::to_string(mp->ports[++i]);
    }
    const char* opt = mp->flags == XT_MULTIPORT_DESTINATION ? "--dports"
                      : mp->flags == XT_MULTIPORT_SOURCE   ? "--sports" : "--ports";
    out.options.push_back({opt, list, mp->invert != 0});
  } else if (n == "addrtype" && rev == 1) {
    const auto* a = reinterpret_cast<const xt_addrtype_info_v1*>(m->data);
    if (a->source) out.options.push_back({"--src-type", AddrTypeText(a->source), (a->flags & XT_ADDRTYPE_INVERT_SOURCE) != 0});
    if (a->dest) out.options.push_back({"--dst-type", AddrTypeText(a->dest), (a->flags & XT_ADDRTYPE_INVERT_DEST) != 0});
    if (a->flags & XT_ADDRTYPE_LIMIT_IFACE_IN) out.options.push_back({"--limit-iface-in", "", false});
    if (a->flags & XT_ADDRTYPE_LIMIT_IFACE_OUT) out.options.push_back({"--limit-iface-out", "", false});
  } else if (n == "mark" && rev == 1) {
    const auto* k = reinterpret_cast<const xt_mark_mtinfo1*>(m->data);
    out.options.push_back({"--mark", k->mask == 0xffffffffU ? Hex(k->mark) : Hex(k->mark) + "/" + Hex(k->mask), k->invert != 0});
  } else if (n == "conntrack" && rev == 3 &&
             reinterpret_cast<const xt_conntrack_mtinfo3*>(m->data)->match_flags == XT_CONNTRACK_STATE) {
    const auto* ct = reinterpret_cast<const xt_conntrack_mtinfo3*>(m->data);
    std::string list;
    for (const auto& [name, bit] : kCtStates) {
      if (ct->state_mask & bit) list += (list.empty() ? "" : ",") + std::string(name);
    }
    out.options.push_back({"--ctstate", list, (ct->invert_flags & XT_CONNTRACK_STATE) != 0});
  } else {
    out.options.push_back({"--opaque", "rev" + std::to_string(rev), false});
  }
  return out;
}

// ---- the two families behind one interface

struct Ops4 {
  using Entry = ipt_entry;
  static constexpr auto init = iptc_init;
  static constexpr auto free = iptc_free;
  static constexpr auto first_chain = iptc_first_chain;
  static constexpr auto next_chain = iptc_next_chain;
  static constexpr auto first_rule = iptc_first_rule;
  static constexpr auto next_rule = iptc_next_rule;
  static constexpr auto get_target = iptc_get_target;
  static constexpr auto create_chain = iptc_create_chain;
  static constexpr auto flush = iptc_flush_entries;
  static constexpr auto delete_chain = iptc_delete_chain;
  static constexpr auto append = iptc_append_entry;
  static constexpr auto insert = iptc_insert_entry;
  static constexpr auto delete_num = iptc_delete_num_entry;
  static constexpr auto commit = iptc_commit;
  static constexpr auto strerror = iptc_strerror;
  static constexpr Family kFamily = Family::kIPv4;

  static void FillHeader(Entry* e, const Rule& r) {
    ipt_ip& ip = e->ip;
    if (!r.src.empty()) NetBytes(kFamily, r.src, &ip.src, &ip.smsk);
    if (!r.dst.empty()) NetBytes(kFamily, r.dst, &ip.dst, &ip.dmsk);
    if (r.src_neg) ip.invflags |= IPT_INV_SRCIP;
    if (r.dst_neg) ip.invflags |= IPT_INV_DSTIP;
    if (!r.in_iface.empty()) IfaceBytes(r.in_iface, ip.iniface, ip.iniface_mask);
    if (!r.out_iface.empty()) IfaceBytes(r.out_iface, ip.outiface, ip.outiface_mask);
    if (r.in_neg) ip.invflags |= IPT_INV_VIA_IN;
    if (r.out_neg) ip.invflags |= IPT_INV_VIA_OUT;
    if (!r.proto.empty()) ip.proto = ProtoNumber(r.proto);
    if (r.proto_neg) ip.invflags |= XT_INV_PROTO;
  }
  static void ReadHeader(const Entry* e, Rule& r) {
    const ipt_ip& ip = e->ip;
    r.src = NetText(kFamily, &ip.src, &ip.smsk);
    r.dst = NetText(kFamily, &ip.dst, &ip.dmsk);
    r.src_neg = ip.invflags & IPT_INV_SRCIP;
    r.dst_neg = ip.invflags & IPT_INV_DSTIP;
    r.in_iface = ip.iniface;
    r.out_iface = ip.outiface;
    r.in_neg = ip.invflags & IPT_INV_VIA_IN;
    r.out_neg = ip.invflags & IPT_INV_VIA_OUT;
    if (ip.proto) r.proto = ProtoText(ip.proto);
    r.proto_neg = ip.invflags & XT_INV_PROTO;
  }
};

struct Ops6 {
  using Entry = ip6t_entry;
  static constexpr auto init = ip6tc_init;
  static constexpr auto free = ip6tc_free;
  static constexpr auto first_chain = ip6tc_first_chain;
  static constexpr auto next_chain = ip6tc_next_chain;
  static constexpr auto first_rule = ip6tc_first_rule;
  static constexpr auto next_rule = ip6tc_next_rule;
  static constexpr auto get_target = ip6tc_get_target;
  static constexpr auto create_chain = ip6tc_create_chain;
  static constexpr auto flush = ip6tc_flush_entries;
  static constexpr auto delete_chain = ip6tc_delete_chain;
  static constexpr auto append = ip6tc_append_entry;
  static constexpr auto insert = ip6tc_insert_entry;
  static constexpr auto delete_num = ip6tc_delete_num_entry;
  static constexpr auto commit = ip6tc_commit;
  static constexpr auto strerror = ip6tc_strerror;
  static constexpr Family kFamily = Family::kIPv6;

  static void FillHeader(Entry* e, const Rule& r) {
    ip6t_ip6& ip = e->ipv6;
    if (!r.src.empty()) NetBytes(kFamily, r.src, &ip.src, &ip.smsk);
    if (!r.dst.empty()) NetBytes(kFamily, r.dst, &ip.dst, &ip.dmsk);
    if (r.src_neg) ip.invflags |= IP6T_INV_SRCIP;
    if (r.dst_neg) ip.invflags |= IP6T_INV_DSTIP;
    if (!r.in_iface.empty()) IfaceBytes(r.in_iface, ip.iniface, ip.iniface_mask);
    if (!r.out_iface.empty()) IfaceBytes(r.out_iface, ip.outiface, ip.outiface_mask);
    if (r.in_neg) ip.invflags |= IP6T_INV_VIA_IN;
    if (r.out_neg) ip.invflags |= IP6T_INV_VIA_OUT;
    if (!r.proto.empty()) {
      ip.proto = ProtoNumber(r.proto);
      if (ip.proto) ip.flags |= IP6T_F_PROTO;
    }
    if (r.proto_neg) ip.invflags |= XT_INV_PROTO;
  }
  static void ReadHeader(const Entry* e, Rule& r) {
    const ip6t_ip6& ip = e->ipv6;
    r.src = NetText(kFamily, &ip.src, &ip.smsk);
    r.dst = NetText(kFamily, &ip.dst, &ip.dmsk);
    r.src_neg = ip.invflags & IP6T_INV_SRCIP;
    r.dst_neg = ip.invflags & IP6T_INV_DSTIP;
    r.in_iface = ip.iniface;
    r.out_iface = ip.outiface;
    r.in_neg = ip.invflags & IP6T_INV_VIA_IN;
    r.out_neg = ip.invflags & IP6T_INV_VIA_OUT;
    if (ip.flags & IP6T_F_PROTO) r.proto = ProtoText(ip.proto);
    r.proto_neg = ip.invflags & XT_INV_PROTO;
  }
};

template <typename O>
class Table {
 public:
  explicit Table(const std::string& name) : name_(name), h_(O::init(name.c_str())) {
    if (!h_) throw Error(kInternal, "can't initialize iptables table `" + name + "': " + O::strerror(errno));
  }
  ~Table() {
    if (h_) O::free(h_);
  }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  TableState State() {
    TableState st;
    for (const char* c = O::first_chain(h_); c; c = O::next_chain(h_)) {
      std::string chain = c;
      st.chain_order.push_back(chain);
      std::vector<std::string>& rules = st.chains[chain];
      for (const auto* e = O::first_rule(chain.c_str(), h_); e; e = O::next_rule(e, h_))
        rules.push_back(Decode(e));
    }
    return st;
  }

  void Run(const Op& op) {
    int ok = 1;
    const char* chain = op.chain.c_str();
    std::vector<uint8_t> entry;
    switch (op.kind) {
      case Op::kNewChain: ok = O::create_chain(chain, h_); break;
      case Op::kAppend:
        entry = Encode(op.parsed);
        ok = O::append(chain, reinterpret_cast<typename O::Entry*>(entry.data()), h_);
        break;
      case Op::kInsertFirst:
        entry = Encode(op.parsed);
        ok = O::insert(chain, reinterpret_cast<typename O::Entry*>(entry.data()), 0, h_);
        break;
      case Op::kDelete: ok = O::delete_num(chain, static_cast<unsigned>(op.index), h_); break;
      case Op::kFlush: ok = O::flush(chain, h_); break;
      case Op::kDeleteChain: ok = O::delete_chain(chain, h_); break;
    }
    if (!ok) {
      std::string what = op.kind == Op::kNewChain ? "create chain " : op.kind == Op::kDeleteChain ? "delete chain " : "";
      throw Error(kInternal, "iptables-legacy " + name_ + " " + what + op.chain +
                                 (op.rule.empty() ? "" : " [" + op.rule + "]") + ": " + O::strerror(errno));
    }
  }

  void Commit() {
    if (!O::commit(h_)) throw Error(kInternal, "iptables-legacy commit " + name_ + ": " + O::strerror(errno));
  }

 private:
  std::string Decode(const typename O::Entry* e) {
    Rule r;
    O::ReadHeader(e, r);
    const auto* base = reinterpret_cast<const uint8_t*>(e);
    for (size_t off = sizeof(typename O::Entry); off < e->target_offset;) {
      const auto* m = reinterpret_cast<const xt_entry_match*>(base + off);
      if (m->u.match_size == 0) break;
      r.matches.push_back(DecodeMatch(m));
      off += m->u.match_size;
    }
    const char* target = O::get_target(e, h_);
    r.target = target ? target : "";
    const auto* t = reinterpret_cast<const xt_entry_target*>(base + e->target_offset);
    if (r.target == "DNAT" || r.target == "SNAT") {
      nf_nat_range2 range{};
      size_t have = t->u.target_size - sizeof(xt_entry_target);
      if (t->u.user.revision == 2 || t->u.user.revision == 1) {
        std::memcpy(&range, t->data, std::min(have, sizeof range));
      } else if (O::kFamily == Family::kIPv4 && have >= sizeof(nf_nat_ipv4_multi_range_compat)) {
        const auto* c = reinterpret_cast<const nf_nat_ipv4_multi_range_compat*>(t->data);
        range.flags = c->range[0].flags;
        range.min_addr.ip = c->range[0].min_ip;
        range.max_addr.ip = c->range[0].max_ip;
        range.min_proto = c->range[0].min;
        range.max_proto = c->range[0].max;
      }
      r.target_options.push_back({r.target == "DNAT" ? "--to-destination" : "--to-source", NatText(O::kFamily, range), false});
    } else if (r.target == "MARK" && t->u.user.revision == 2) {
      const auto* m = reinterpret_cast<const xt_mark_tginfo2*>(t->data);
      r.target_options.push_back({"--set-xmark", Hex(m->mark) + "/" + Hex(m->mask), false});
    } else if (r.target == "MASQUERADE") {
      unsigned flags = 0;
      size_t have = t->u.target_size - sizeof(xt_entry_target);
      if (O::kFamily == Family::kIPv4 && have >= sizeof(nf_nat_ipv4_multi_range_compat))
        flags = reinterpret_cast<const nf_nat_ipv4_multi_range_compat*>(t->data)->range[0].flags;
      else if (O::kFamily == Family::kIPv6 && have >= sizeof(nf_nat_range))
        flags = reinterpret_cast<const nf_nat_range*>(t->data)->flags;
      if (flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY) r.target_options.push_back({"--random-fully", "", false});
      if (flags & ~NF_NAT_RANGE_PROTO_RANDOM_FULLY) r.target_options.push_back({"--opaque", "", false});
    } else if (t->u.user.name[0] != '\0' &&
               std::strcmp(t->u.user.name, "ERROR") != 0 && r.target == t->u.user.name &&
               t->u.target_size > XT_ALIGN(sizeof(xt_standard_target))) {
      r.target_options.push_back({"--opaque", "", false});  // an extension target we don't decode
    }
    return r.Canonical();
  }

  std::vector<uint8_t> Encode(const Rule& r) {
    std::vector<Blob> matches;
    for (const Rule::Match& m : r.matches) matches.push_back(EncodeMatch(m));
    Blob target = EncodeTarget(O::kFamily, r);
    size_t size = sizeof(typename O::Entry);
    for (const Blob& b : matches) size += b.bytes.size();
    std::vector<uint8_t> out(size + target.bytes.size(), 0);
    auto* e = reinterpret_cast<typename O::Entry*>(out.data());
    O::FillHeader(e, r);
    size_t off = sizeof(typename O::Entry);
    for (const Blob& b : matches) {
      std::memcpy(out.data() + off, b.bytes.data(), b.bytes.size());
      off += b.bytes.size();
    }
    std::memcpy(out.data() + off, target.bytes.data(), target.bytes.size());
    e->target_offset = static_cast<uint16_t>(size);
    e->next_offset = static_cast<uint16_t>(out.size());
    return out;
  }

  std::string name_;
  xtc_handle* h_;
};

class IptcBackend : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kIptablesLegacy; }

  void Ensure(Family family, std::span<const Chain> chains) override {
    Transaction(family, chains, [&](std::map<std::string, TableState>& st) { return PlanEnsure(family, chains, st); });
  }

  void Remove(Family family, std::span<const Chain> chains) override {
    Transaction(family, chains, [&](std::map<std::string, TableState>& st) { return PlanRemove(family, chains, st); });
  }

  std::optional<std::string> Check(Family family, std::span<const Chain> chains) override {
    UniqueFd lock = Lock();
    std::map<std::string, TableState> states;
    for (const std::string& t : TablesOf(chains)) states[t] = ReadTable(family, t);
    return CheckState(family, chains, states);
  }

  bool ChainExists(Family family, std::string_view table, std::string_view chain) override {
    UniqueFd lock = Lock();
    return ReadTable(family, std::string(table)).Has(chain);
  }

  std::map<std::string, std::vector<std::string>> List(Family family, std::string_view table) override {
    UniqueFd lock = Lock();
    TableState st = ReadTable(family, std::string(table));
    std::map<std::string, std::vector<std::string>> out;
    for (auto& [name, rules] : st.chains) out[name] = rules;
    return out;
  }

  bool Usable(Family family) override {
    try {
      UniqueFd lock = Lock();
      ReadTable(family, "nat");
      return true;
    } catch (const Error&) {
      return false;
    }
  }

 private:
  static UniqueFd Lock() {
    UniqueFd fd(open(kXtablesLock, O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) throw Error::Errno(errno, std::string("open ") + kXtablesLock);
    if (!FlockWithTimeout(fd.get(), std::chrono::milliseconds(kLockTimeoutMs)))
      throw Error(kTryAgainLater, std::string("timed out waiting for lock ") + kXtablesLock);
    return fd;
  }

  static TableState ReadTable(Family family, const std::string& table) {
    if (family == Family::kIPv4) return Table<Ops4>(table).State();
    return Table<Ops6>(table).State();
  }

  template <typename Plan>
  void Transaction(Family family, std::span<const Chain> chains, Plan plan) {
    if (family == Family::kIPv4) Run<Ops4>(chains, plan);
    else Run<Ops6>(chains, plan);
  }

  template <typename O, typename Plan>
  void Run(std::span<const Chain> chains, Plan plan) {
    UniqueFd lock = Lock();
    std::map<std::string, std::unique_ptr<Table<O>>> tables;
    std::map<std::string, TableState> states;
    for (const std::string& t : TablesOf(chains)) {
      tables[t] = std::make_unique<Table<O>>(t);
      states[t] = tables[t]->State();
    }
    std::vector<Op> ops = plan(states);
    if (ops.empty()) return;  // nothing to change: no commit, no RCU grace period
    for (const Op& op : ops) tables[op.table]->Run(op);
    for (auto& [name, table] : tables) table->Commit();
  }
};

}  // namespace

std::unique_ptr<Backend> MakeIptcBackend() { return std::make_unique<IptcBackend>(); }

}  // namespace cni::fw
