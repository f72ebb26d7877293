// subnet.env parsing: see subnet_env.h.
#include "subnet_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cni/encoding.h"
#include "cni/error.h"
#include "cni/files.h"

namespace flannel {
namespace {

// bufio.Scanner's default limit: a line that does not fit a 64 KiB buffer fails the scan.
constexpr size_t kMaxLine = 64 * 1024;

cni::IPNet ParseCidr(std::string_view s) {
  auto net = cni::IPNet::Parse(s);
  if (!net) throw cni::Error(cni::kInternal, "invalid CIDR address: " + std::string(s));
  return net->Masked();
}

// FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK: a comma list; the same network twice is kept once.
std::vector<cni::IPNet> ParseNetworkList(std::string_view s) {
  std::vector<cni::IPNet> out;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    cni::IPNet n = ParseCidr(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    bool seen = false;
    for (const cni::IPNet& o : out) seen = seen || o == n;
    if (!seen) out.push_back(n);
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// strconv.ParseUint(s, 10, 32), including its error texts.
uint32_t ParseMtu(std::string_view s) {
  auto syntax = [&] { return cni::Error(cni::kInternal, "strconv.ParseUint: parsing " + cni::GoQuote(s) + ": invalid syntax"); };
  if (s.empty()) throw syntax();
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') throw syntax();
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > 0xffffffffULL) {
      throw cni::Error(cni::kInternal, "strconv.ParseUint: parsing " + cni::GoQuote(s) + ": value out of range");
    }
  }
  return static_cast<uint32_t>(n);
}

void ParseLine(std::string_view line, SubnetEnv& env) {
  size_t eq = line.find('=');
  std::string_view key = line.substr(0, eq);
  if (eq == std::string_view::npos) return;  // no value: skipped (the reference panics on a known key)
  std::string_view value = line.substr(eq + 1);
  if (key == "FLANNEL_NETWORK") {
    env.networks = ParseNetworkList(value);
  } else if (key == "FLANNEL_SUBNET") {
    env.subnet = ParseCidr(value);
  } else if (key == "FLANNEL_IPV6_NETWORK") {
    env.ipv6_networks = ParseNetworkList(value);
  } else if (key == "FLANNEL_IPV6_SUBNET") {
    env.ipv6_subnet = ParseCidr(value);
  } else if (key == "FLANNEL_MTU") {
    env.mtu = ParseMtu(value);
  } else if (key == "FLANNEL_IPMASQ") {
    env.ipmasq = value == "true";
  }
}

}  // namespace

std::string SubnetEnv::Missing() const {
  std::string m;
  auto add = [&m](const char* s) { m += (m.empty() ? "" : ", ") + std::string(s); };
  if (networks.empty() && ipv6_networks.empty()) {
    add("FLANNEL_NETWORK");
    add("FLANNEL_IPV6_NETWORK");
  }
  if (!subnet && !ipv6_subnet) {
    add("FLANNEL_SUBNET");
    add("FLANNEL_IPV6_SUBNET");
  }
  if (!mtu) add("FLANNEL_MTU");
  if (!ipmasq) add("FLANNEL_IPMASQ");
  return m;
}

SubnetEnv ParseSubnetEnv(std::string_view text, std::string_view path) {
  SubnetEnv env;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() >= kMaxLine) throw cni::Error(cni::kInternal, "bufio.Scanner: token too long");
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // ScanLines drops one CR
    ParseLine(line, env);
    pos = end + 1;
  }
  std::string missing = env.Missing();
  if (!missing.empty()) throw cni::Error(cni::kInternal, std::string(path) + " is missing " + missing);
  return env;
}

SubnetEnv LoadSubnetEnv(const std::string& path) {
  cni::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int e = errno;
    throw cni::Error(e == ENOENT ? cni::kTryAgainLater : cni::kInternal, "open " + path + ": " + cni::GoErrno(e));
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t k = ::read(fd.get(), buf, sizeof buf);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw cni::Error(cni::kInternal, "read " + path + ": " + cni::GoErrno(errno));
    }
    if (k == 0) break;
    text.append(buf, static_cast<size_t>(k));
  }
  return ParseSubnetEnv(text, path);
}

}  // namespace flannel
