// tc requests and the qdisc dump (see cni/net/tc.h), on the transport of netlink.cpp (nl.h).
#include "cni/net/tc.h"

#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "nl.h"

namespace cni::net {

namespace {

using nl::MsgPtr;

// Go's syscall.Errno text: strerror with a lower-case first letter ("file exists").
[[noreturn]] void Fail(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  throw NetlinkError(err, text);
}

MsgPtr TcMsg(int type, int flags, int index, uint32_t handle, uint32_t parent, uint32_t info = 0) {
  MsgPtr m = nl::NewMsg(type, flags);
  tcmsg t{};
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = index;
  t.tcm_handle = handle;
  t.tcm_parent = parent;
  t.tcm_info = info;
  nl::Append(m.get(), t);
  return m;
}

void Request(Socket& s, nl_msg* m) {
  if (int err = nl::Transact(s.impl().sk.get(), m, nullptr)) Fail(err);
}

constexpr int kCreate = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

}  // namespace

double TcTicksPerUsec() {
  // As the reference's library: ticks = t2us / us2t * (clock resolution / 1e6), where a clock
  // of 1e9 means the first field is not used; 1.0 when the file can't be read.
  static double ticks = [] {
    double v = 1.0;
    if (FILE* f = std::fopen("/proc/net/psched", "re")) {
      unsigned t2us = 0, us2t = 0, res = 0, hz = 0;
      if (std::fscanf(f, "%x %x %x %x", &t2us, &us2t, &res, &hz) == 4 && us2t != 0) {
        if (res == 1000000000u) t2us = us2t;
        double clock_factor = static_cast<double>(res) / 1e6;
        v = static_cast<double>(t2us) / static_cast<double>(us2t) * clock_factor;
      }
      std::fclose(f);
    }
    return v;
  }();
  return ticks;
}

void AddTbfQdisc(Socket& s, int index, uint32_t handle, uint32_t parent, const Tbf& tbf) {
  MsgPtr m = TcMsg(RTM_NEWQDISC, kCreate, index, handle, parent);
  nl::PutStr(m.get(), TCA_KIND, "tbf");
  nlattr* opts = nl::Nest(m.get(), TCA_OPTIONS);
  tc_tbf_qopt q{};
  q.rate.rate = static_cast<uint32_t>(tbf.rate);  // the low 32 bits, as the reference sends
  q.limit = tbf.limit;
  q.buffer = tbf.buffer;
  nl::PutRaw(m.get(), TCA_TBF_PARMS, &q, sizeof q);
  if (tbf.rate >= (uint64_t{1} << 32)) nl::Check(nla_put_u64(m.get(), TCA_TBF_RATE64, tbf.rate));
  nl::EndNest(m.get(), opts);
  Request(s, m.get());
}

void AddIngressQdisc(Socket& s, int index) {
  MsgPtr m = TcMsg(RTM_NEWQDISC, kCreate, index, TcHandle(0xffff, 0), kTcHandleIngress);
  nl::PutStr(m.get(), TCA_KIND, "ingress");
  nl::EndNest(m.get(), nl::Nest(m.get(), TCA_OPTIONS));  // empty, as the reference sends it
  Request(s, m.get());
}

void AddU32Filter(Socket& s, const U32MatchAll& f) {
  uint32_t info = TcHandle(f.priority, htons(f.protocol));
  MsgPtr m = TcMsg(RTM_NEWTFILTER, kCreate, f.index, 0, f.parent, info);
  nl::PutStr(m.get(), TCA_KIND, "u32");
  nlattr* opts = nl::Nest(m.get(), TCA_OPTIONS);
  // The selector with one all-zero key: every packet matches.
  // (tc_u32_sel ends in a flexible array of keys, so it is filled in place in a buffer.)
  alignas(tc_u32_sel) unsigned char sel[sizeof(tc_u32_sel) + sizeof(tc_u32_key)] = {};
  auto* head = reinterpret_cast<tc_u32_sel*>(sel);
  head->flags = TC_U32_TERMINAL;
  head->nkeys = 1;
  nl::PutRaw(m.get(), TCA_U32_SEL, sel, sizeof sel);
  if (f.classid) nl::PutU32(m.get(), TCA_U32_CLASSID, f.classid);
  nlattr* acts = nl::Nest(m.get(), TCA_U32_ACT);
  int order = 1;
  for (const Mirred& a : f.actions) {
    nlattr* act = nl::Nest(m.get(), order++);
    nl::PutStr(m.get(), TCA_ACT_KIND, "mirred");
    nlattr* aopts = nl::Nest(m.get(), TCA_ACT_OPTIONS);
    tc_mirred p{};
    p.action = a.action;
    p.eaction = a.eaction;
    p.ifindex = static_cast<uint32_t>(a.ifindex);
    nl::PutRaw(m.get(), TCA_MIRRED_PARMS, &p, sizeof p);
    nl::EndNest(m.get(), aopts);
    nl::EndNest(m.get(), act);
  }
  nl::EndNest(m.get(), acts);
  nl::EndNest(m.get(), opts);
  Request(s, m.get());
}

std::vector<Qdisc> Qdiscs(Socket& s, int index) {
  std::vector<Qdisc> out;
  nl::Handler on = [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWQDISC) return;
    auto* t = static_cast<tcmsg*>(nlmsg_data(h));
    if (t->tcm_ifindex != index) return;
    nlattr* tb[TCA_MAX + 1] = {};
    nlmsg_parse(h, sizeof(tcmsg), tb, TCA_MAX, nullptr);
    Qdisc q;
    q.index = t->tcm_ifindex;
    q.handle = t->tcm_handle;
    q.parent = t->tcm_parent;
    if (tb[TCA_KIND]) q.kind = nla_get_string(tb[TCA_KIND]);
    if (q.kind == "tbf" && tb[TCA_OPTIONS]) {
      nlattr* o[TCA_TBF_MAX + 1] = {};
      nla_parse_nested(o, TCA_TBF_MAX, tb[TCA_OPTIONS], nullptr);
      if (o[TCA_TBF_PARMS] && nla_len(o[TCA_TBF_PARMS]) >= static_cast<int>(sizeof(tc_tbf_qopt))) {
        tc_tbf_qopt p{};
        std::memcpy(&p, nla_data(o[TCA_TBF_PARMS]), sizeof p);
        Tbf tbf{p.rate.rate, p.limit, p.buffer};
        if (o[TCA_TBF_RATE64] && nla_len(o[TCA_TBF_RATE64]) >= 8) tbf.rate = nla_get_u64(o[TCA_TBF_RATE64]);
        q.tbf = tbf;
      }
    }
    out.push_back(std::move(q));
  };
  nl::Dump(
      s.impl().sk.get(),
      [&] {
        MsgPtr m = TcMsg(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, index, 0, 0);
        return m;
      },
      on, [&] { out.clear(); }, "list qdiscs");
  return out;
}

}  // namespace cni::net
