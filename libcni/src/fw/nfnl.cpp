// See nfnl.h.
#include "nfnl.h"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>

namespace cni::fw {

NfnlRequest::NfnlRequest(uint16_t subsys_msg, uint16_t flags, uint8_t family) {
  nlmsghdr nh{};
  nh.nlmsg_type = subsys_msg;
  nh.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  buf_.append(reinterpret_cast<const char*>(&nh), sizeof nh);
  buf_.append(reinterpret_cast<const char*>(&g), sizeof g);
}

NfnlRequest& NfnlRequest::Put(uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  buf_.append(reinterpret_cast<const char*>(&a), sizeof a);
  buf_.append(static_cast<const char*>(data), len);
  buf_.append(NLA_ALIGN(a.nla_len) - a.nla_len, '\0');
  return *this;
}

NfnlRequest& NfnlRequest::PutString(uint16_t type, std::string_view s) {
  std::string z(s);
  return Put(type, z.c_str(), z.size() + 1);
}

NfnlRequest& NfnlRequest::PutU32(uint16_t type, uint32_t v) {
  v = htonl(v);
  return Put(type, &v, sizeof v);
}

NfnlRequest& NfnlRequest::PutU64(uint16_t type, uint64_t v) {
  v = htobe64(v);
  return Put(type, &v, sizeof v);
}

size_t NfnlRequest::Begin(uint16_t type) {
  size_t at = buf_.size();
  nlattr a{};
  a.nla_type = static_cast<uint16_t>(type | NLA_F_NESTED);
  buf_.append(reinterpret_cast<const char*>(&a), sizeof a);
  return at;
}

void NfnlRequest::End(size_t at) {
  auto len = static_cast<uint16_t>(buf_.size() - at);
  std::memcpy(buf_.data() + at, &len, sizeof len);  // nla_len comes first
}

NfgenHeader NfgenOf(const nlmsghdr& nh) {
  nfgenmsg g{};
  if (nh.nlmsg_len >= NLMSG_LENGTH(sizeof g)) std::memcpy(&g, NLMSG_DATA(&nh), sizeof g);
  return {g.nfgen_family, g.res_id};
}

NfnlSocket::NfnlSocket()
    : fd_(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER)) {}

int NfnlSocket::Ask(NfnlRequest& req, const std::function<bool(const nlmsghdr&)>& on_reply) {
  std::string& bytes = req.bytes();
  if (!fd_ || bytes.size() > UINT32_MAX) return -1;
  uint32_t seq = ++seq_;
  auto* head = reinterpret_cast<nlmsghdr*>(bytes.data());
  head->nlmsg_len = static_cast<uint32_t>(bytes.size());
  head->nlmsg_seq = seq;
  bool dump = head->nlmsg_flags & NLM_F_DUMP;
  bool ack = head->nlmsg_flags & NLM_F_ACK;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) != static_cast<ssize_t>(bytes.size()))
    return -1;
  // dumps come in skbs of up to 32 KiB; not zeroed (recv fills what is read): zeroing 64 KiB per
  // request was a quarter of portmap's user-space instructions (callgrind)
  constexpr size_t kBuf = 1 << 16;
  auto buf = std::make_unique_for_overwrite<char[]>(kBuf);
  for (int stray = 0; stray < 64;) {
    ssize_t n = recv(fd_.get(), buf.get(), kBuf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    size_t left = static_cast<size_t>(n);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf.get()); NLMSG_OK(nh, left);
         nh = NLMSG_NEXT(nh, left)) {
      if (nh->nlmsg_seq != seq) {  // a late reply to an earlier request
        ++stray;
        continue;
      }
      if (nh->nlmsg_type == NLMSG_ERROR) {
        if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return -1;
        int err = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(nh))->error;
        return err < 0 ? -err : 0;
      }
      if (nh->nlmsg_type == NLMSG_DONE) return 0;
      if (nh->nlmsg_flags & NLM_F_DUMP_INTR) return -1;  // the ruleset changed mid-dump
      if (!on_reply(*nh)) return -1;
      if (!dump && !ack) return 0;
    }
  }
  return -1;
}

int NfnlSocket::Batch(std::vector<NfnlRequest>& msgs, uint32_t genid) {
  if (!fd_ || msgs.empty()) return -1;
  NfnlRequest begin(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC), end(NFNL_MSG_BATCH_END, 0, AF_UNSPEC);
  begin.PutU32(NFNL_BATCH_GENID, genid);
  std::string out;
  const uint32_t first = seq_ + 1;
  auto add = [&](NfnlRequest& r, bool ack) {
    std::string& b = r.bytes();
    auto* nh = reinterpret_cast<nlmsghdr*>(b.data());
    nh->nlmsg_len = static_cast<uint32_t>(b.size());
    nh->nlmsg_seq = ++seq_;
    if (ack) nh->nlmsg_flags |= NLM_F_ACK;
    // the batch messages name the subsystem they are for in res_id
    else reinterpret_cast<nfgenmsg*>(NLMSG_DATA(nh))->res_id = htons(NFNL_SUBSYS_NFTABLES);
    out += b;
  };
  add(begin, false);
  for (NfnlRequest& r : msgs) add(r, true);
  add(end, false);
  // one sendmsg is one skb for the kernel: bounded by the send buffer
  constexpr size_t kMax = 128 * 1024;
  if (out.size() > kMax) return EMSGSIZE;
  int sndbuf = static_cast<int>(2 * kMax);
  setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_.get(), out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) != static_cast<ssize_t>(out.size()))
    return errno ? errno : EIO;  // not delivered: nothing changed
  // The kernel handles the batch inside sendto, so every answer is queued by now: a recv that
  // would block means answers were lost, and with them what became of the batch.
  // An answer per message (an ack, or the error that aborts the batch), or one error for the
  // whole batch at its BATCH_BEGIN (the generation moved on: ERESTART).
  const uint32_t last = first + static_cast<uint32_t>(msgs.size());  // seq of the last message
  size_t answered = 0;
  int first_err = 0;
  constexpr size_t kBuf = 1 << 16;
  auto buf = std::make_unique_for_overwrite<char[]>(kBuf);
  while (answered < msgs.size()) {
    ssize_t n = recv(fd_.get(), buf.get(), kBuf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    size_t left = static_cast<size_t>(n);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf.get()); NLMSG_OK(nh, left);
         nh = NLMSG_NEXT(nh, left)) {
      if (nh->nlmsg_type != NLMSG_ERROR || nh->nlmsg_seq < first || nh->nlmsg_seq > last) continue;
      if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return -1;
      int err = -reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(nh))->error;
      if (nh->nlmsg_seq == first) return err > 0 ? err : -1;  // the batch itself was refused
      if (err > 0 && first_err == 0) first_err = err;
      ++answered;
    }
  }
  return first_err;
}

}  // namespace cni::fw
