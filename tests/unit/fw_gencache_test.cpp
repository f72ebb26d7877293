// Firewall layer, pure: the iptables-nft backend's record of chain state per generation
// (libcni/src/fw/gencache.h): text round trip, rejection of torn or foreign text, lookups that
// only answer when every chain is known, and updates after a read and after a plan.
#include <catch2/catch.hpp>

#include "../../libcni/src/fw/gencache.h"

using cni::fw::ChainKeys;
using cni::fw::Family;
using cni::fw::StateCache;
using cni::fw::TableState;

namespace {

// A nat table as a full iptables-save read gives it.
std::map<std::string, TableState> FullRead() {
  return {{"nat", cni::fw::ParseSave("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                                     ":CNI-HOSTPORT-DNAT - [0:0]\n"
                                     "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n"
                                     "COMMIT\n",
                                     "nat")}};
}

}  // namespace

TEST_CASE("fw gencache: text round trip and rejection of torn records", "[fw][unit]") {
  StateCache c;
  c.genid = 41;
  c.cookie = 0x1234567890;
  c.Store(Family::kIPv4, {{"nat", "PREROUTING"}}, FullRead(), true);
  c.Store(Family::kIPv6, {{"nat", "CNI-DN-x"}}, {}, false);  // read per chain: absent
  c.tables[{4, "nat"}].prints["PREROUTING"] = 0xfedcba9876543210ULL;
  c.tables[{4, "nat"}].prints["CNI-HOSTPORT-DNAT"] = 7;
  std::string text = c.Serialize();
  StateCache back = StateCache::Parse(text);
  REQUIRE(back.genid == 41u);
  CHECK(back.cookie == 0x1234567890u);
  CHECK(back.Serialize() == text);
  CHECK(back.tables.at({4, "nat"}).complete);
  CHECK(back.tables.at({4, "nat"}).chains.at("PREROUTING") ==
        std::vector<std::string>{"-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"});
  CHECK(back.tables.at({6, "nat"}).absent.count("CNI-DN-x") == 1);
  CHECK(back.tables.at({4, "nat"}).prints.at("PREROUTING") == 0xfedcba9876543210ULL);
  CHECK(back.tables.at({4, "nat"}).prints.at("CNI-HOSTPORT-DNAT") == 7);

  // A chain that goes away loses its digest with its rules.
  back.Store(Family::kIPv4, {{"nat", "CNI-HOSTPORT-DNAT"}}, {}, false);
  CHECK(back.tables.at({4, "nat"}).prints.count("CNI-HOSTPORT-DNAT") == 0);
  CHECK(back.tables.at({4, "nat"}).prints.count("PREROUTING") == 1);

  // Cut anywhere before "end": nothing is trusted.
  for (size_t cut : {size_t{0}, size_t{10}, text.size() / 2, text.size() - 4, text.size() - 1})
    CHECK_FALSE(StateCache::Parse(text.substr(0, cut)).genid);
  // The restore backend rewrites the record in place with its first byte spoilt until the rest
  // is written: such a record, old text behind it or not, is not trusted either.
  CHECK_FALSE(StateCache::Parse("#" + text.substr(1)).genid);
  CHECK_FALSE(StateCache::Parse("#" + text.substr(1, text.size() / 2) + text).genid);
  CHECK_FALSE(StateCache::Parse("something else\nend\n").genid);
  CHECK_FALSE(StateCache::Parse("weft-fw-state 1\ngenid x\nend\n").genid);
  CHECK_FALSE(StateCache::Parse("weft-fw-state 1\nend\n").genid);  // no generation
  CHECK_FALSE(StateCache::Parse("weft-fw-state 1\ngenid 1\ntable 4 nat 0\nprint X 12\nend\n").genid);
  CHECK(StateCache{}.Serialize().empty());
}

TEST_CASE("fw gencache: lookups answer only when every chain is known", "[fw][unit]") {
  StateCache c;
  c.genid = 7;
  ChainKeys keys{{"nat", "CNI-DN-a"}, {"nat", "CNI-HOSTPORT-DNAT"}};
  std::map<std::string, TableState> out;
  CHECK_FALSE(c.Lookup(Family::kIPv4, keys, out));  // nothing recorded

  // A full read of the table: a chain not in it is known to be absent.
  c.Store(Family::kIPv4, keys, FullRead(), true);
  REQUIRE(c.Lookup(Family::kIPv4, keys, out));
  CHECK(out["nat"].Has("CNI-HOSTPORT-DNAT"));
  CHECK_FALSE(out["nat"].Has("CNI-DN-a"));
  CHECK_FALSE(out["nat"].Has("PREROUTING"));  // only the chains asked for
  CHECK_FALSE(c.Lookup(Family::kIPv6, keys, out));  // the other family is unknown

  // A per-chain read knows only the chains it read.
  StateCache p;
  p.genid = 7;
  std::map<std::string, TableState> partial = FullRead();
  p.Store(Family::kIPv4, {{"nat", "CNI-HOSTPORT-DNAT"}, {"nat", "CNI-DN-a"}}, partial, false);
  CHECK(p.Lookup(Family::kIPv4, keys, out));
  CHECK_FALSE(out["nat"].Has("CNI-DN-a"));
  CHECK_FALSE(p.Lookup(Family::kIPv4, {{"nat", "CNI-DN-b"}}, out));
}

TEST_CASE("fw gencache: the state a plan leaves behind replaces the recorded one", "[fw][unit]") {
  StateCache c;
  c.genid = 1;
  cni::fw::Chain dn;
  dn.name = "CNI-DN-a";
  dn.entry_chains = {"CNI-HOSTPORT-DNAT"};
  dn.entry_rules = {{"-p", "tcp", "-m", "multiport", "--dports", "80"}};
  dn.rules = {{"-p", "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", "10.0.0.2:80"}};
  ChainKeys keys{{"nat", "CNI-DN-a"}, {"nat", "CNI-HOSTPORT-DNAT"}};
  std::map<std::string, TableState> states = FullRead();
  c.Store(Family::kIPv4, keys, states, true);

  std::vector<cni::fw::Op> ops = cni::fw::PlanEnsure(Family::kIPv4, std::span(&dn, 1), states);
  CHECK(ops.size() == 3);  // new chain, its rule, the jump
  c.Store(Family::kIPv4, keys, states, false);
  std::map<std::string, TableState> out;
  REQUIRE(c.Lookup(Family::kIPv4, keys, out));
  CHECK(out["nat"].chains["CNI-DN-a"] ==
        std::vector<std::string>{"-p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:80"});
  CHECK(out["nat"].chains["CNI-HOSTPORT-DNAT"].size() == 1);
  CHECK(cni::fw::PlanEnsure(Family::kIPv4, std::span(&dn, 1), out).empty());  // nothing to redo

  ops = cni::fw::PlanRemove(cni::fw::Family::kIPv4, std::span(&dn, 1), out);
  CHECK(ops.size() == 3);  // jump, flush, delete
  c.Store(Family::kIPv4, keys, out, false);
  std::map<std::string, TableState> after;
  REQUIRE(c.Lookup(Family::kIPv4, keys, after));
  CHECK_FALSE(after["nat"].Has("CNI-DN-a"));
  CHECK(after["nat"].chains["CNI-HOSTPORT-DNAT"].empty());
  CHECK(c.tables.at({4, "nat"}).complete);  // still a full picture of the table
  CHECK(c.tables.at({4, "nat"}).chains.count("PREROUTING") == 1);
}

TEST_CASE("fw gencache: only the last call's absent chains stay recorded", "[fw][unit]") {
  StateCache c;
  c.genid = 3;
  c.Store(Family::kIPv4, {{"nat", "CNI-DN-a"}, {"nat", "CNI-SN-a"}}, {}, false);
  CHECK(c.tables.at({4, "nat"}).absent == std::set<std::string>{"CNI-DN-a", "CNI-SN-a"});
  // The next container's call: its chains replace the first one's, which would otherwise pile
  // up for the life of the node.
  c.Store(Family::kIPv4, {{"nat", "CNI-DN-b"}}, {}, false);
  CHECK(c.tables.at({4, "nat"}).absent == std::set<std::string>{"CNI-DN-b"});
  std::map<std::string, TableState> out;
  CHECK_FALSE(c.Lookup(Family::kIPv4, {{"nat", "CNI-DN-a"}}, out));  // asked again, not assumed
  CHECK(c.Lookup(Family::kIPv4, {{"nat", "CNI-DN-b"}}, out));
}
