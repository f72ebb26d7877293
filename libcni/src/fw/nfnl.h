// In-process nfnetlink (internal to the fw layer): the requests weft makes to nf_tables
// (generation, chain existence, rule digests and handles, and the iptables-nft rule batches of
// nftwrite.h) and ctnetlink (conntrack dump and delete) go over one plain NETLINK_NETFILTER
// socket each, built and parsed here, so that no library (and no shared object to load at every
// plugin start) stands between a plugin and these messages.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/files.h"

namespace cni::fw {

/// One request: nlmsghdr, nfgenmsg, then attributes.
class NfnlRequest {
 public:
  /// `subsys_msg` is (NFNL_SUBSYS_x << 8) | message; NLM_F_REQUEST is always set.
  NfnlRequest(uint16_t subsys_msg, uint16_t flags, uint8_t family);
  NfnlRequest& Put(uint16_t type, const void* data, size_t len);
  NfnlRequest& PutString(uint16_t type, std::string_view s);  // NUL-terminated
  NfnlRequest& PutU32(uint16_t type, uint32_t v);             // network order
  NfnlRequest& PutU64(uint16_t type, uint64_t v);             // network order
  /// Opens a nested attribute (NLA_F_NESTED) and returns where it starts, for End().
  size_t Begin(uint16_t type);
  void End(size_t at);
  std::string& bytes() { return buf_; }

 private:
  std::string buf_;
};

/// A NETLINK_NETFILTER socket in the calling thread's network namespace.
class NfnlSocket {
 public:
  NfnlSocket();  // never throws; ok() is false when the socket can't be opened
  bool ok() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_ ? fd_.get() : -1; }

  /// Sends `req` and hands every reply message to `on_reply` until the answer is complete (a
  /// single reply or ack, an error, or the end of a dump). Returns 0, the errno of an error
  /// reply, or -1 when netlink itself failed, a dump was interrupted by a change, or `on_reply`
  /// returned false.
  int Ask(NfnlRequest& req, const std::function<bool(const nlmsghdr&)>& on_reply);

  /// Sends `msgs` as one nf_tables transaction (NFNL_MSG_BATCH_BEGIN, the messages with
  /// NLM_F_ACK, NFNL_MSG_BATCH_END) that the kernel refuses with ERESTART unless the ruleset is
  /// still at generation `genid`, and collects every answer. Returns 0 when it committed, an
  /// errno when nothing was changed (the first refusal; EMSGSIZE for a batch larger than one
  /// message may be), or -1 when answers were lost and the outcome is unknown.
  int Batch(std::vector<NfnlRequest>& msgs, uint32_t genid);

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

/// Calls fn(type, payload, length) for each attribute in [p, p + len).
template <class Fn>
void ForEachAttr(const char* p, size_t len, Fn fn) {
  size_t off = 0;
  while (off + sizeof(nlattr) <= len) {
    nlattr a;
    std::memcpy(&a, p + off, sizeof a);
    if (a.nla_len < sizeof(nlattr) || off + a.nla_len > len) return;
    fn(static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK), p + off + NLA_HDRLEN,
       static_cast<size_t>(a.nla_len - NLA_HDRLEN));
    off += NLA_ALIGN(a.nla_len);
  }
}

/// The attributes of an nfnetlink message (after its nfgenmsg).
template <class Fn>
void ForEachAttr(const nlmsghdr& nh, Fn fn) {
  constexpr size_t head = NLMSG_LENGTH(4);  // sizeof(nfgenmsg)
  if (nh.nlmsg_len < head) return;
  ForEachAttr(reinterpret_cast<const char*>(&nh) + head, nh.nlmsg_len - head, fn);
}

/// The nfgenmsg of a message: family and res_id (network order).
struct NfgenHeader {
  uint8_t family;
  uint16_t res_id;
};
NfgenHeader NfgenOf(const nlmsghdr& nh);

}  // namespace cni::fw
