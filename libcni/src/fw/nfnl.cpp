// See nfnl.h.
#include "nfnl.h"

#include <arpa/inet.h>
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

}  // namespace cni::fw
