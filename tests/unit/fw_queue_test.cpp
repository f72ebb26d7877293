// Firewall layer, pure: the request text of the iptables-nft backend's joint commits
// (libcni/src/fw/queue.h): a queued request comes back as the same chains, and only for the
// namespace and family it was queued for.
#include <catch2/catch.hpp>

#include "../../libcni/src/fw/queue.h"

using cni::fw::Chain;
using cni::fw::Family;
using cni::fw::RequestQueue;

TEST_CASE("fw queue: request text round trip", "[fw][unit]") {
  Chain top;
  top.name = "CNI-HOSTPORT-DNAT";
  top.entry_chains = {"PREROUTING", "OUTPUT"};
  top.entry_rules = {{"-m", "addrtype", "--dst-type", "LOCAL"}};
  top.teardown = cni::fw::TeardownPolicy::kNever;
  Chain dn;
  dn.name = "CNI-DN-abc";
  dn.entry_chains = {"CNI-HOSTPORT-DNAT"};
  dn.entry_rules = {{"-m", "comment", "--comment", "dnat name: \"n\" id: \"c\"", "-p", "tcp"}};
  dn.rules = {{"-p", "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", "10.0.0.2:80"}};
  dn.prepend_entry = true;
  std::vector<Chain> chains{top, dn};

  std::string text = RequestQueue::Serialize(42, Family::kIPv4, false, chains);
  auto r = RequestQueue::Parse(text, 42, Family::kIPv4);
  REQUIRE(r);
  CHECK_FALSE(r->ensure);
  REQUIRE(r->chains.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const Chain& a = chains[i];
    const Chain& b = r->chains[i];
    CHECK(b.table == a.table);
    CHECK(b.name == a.name);
    CHECK(b.entry_chains == a.entry_chains);
    CHECK(b.entry_rules == a.entry_rules);
    CHECK(b.rules == a.rules);
    CHECK(b.prepend_entry == a.prepend_entry);
    CHECK(b.teardown == a.teardown);
  }
  CHECK(RequestQueue::Parse(RequestQueue::Serialize(42, Family::kIPv6, true, chains), 42,
                            Family::kIPv6)->ensure);

  // Another namespace, another family, or anything unreadable is not taken.
  CHECK_FALSE(RequestQueue::Parse(text, 43, Family::kIPv4));
  CHECK_FALSE(RequestQueue::Parse(text, 42, Family::kIPv6));
  CHECK_FALSE(RequestQueue::Parse("", 42, Family::kIPv4));
  CHECK_FALSE(RequestQueue::Parse(text.substr(0, text.size() / 2), 42, Family::kIPv4));
  CHECK_FALSE(RequestQueue::Parse("{\"cookie\":42,\"family\":4}", 42, Family::kIPv4));
}
