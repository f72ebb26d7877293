// host-local allocation and store: the reference's allocator_test.go / backend scenarios
// (cni-plugins.md §5.3) against a real store in a temp dir, plus the index-vs-disk protocol:
// files written behind the store's back (as the reference plugin would) are always honoured.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "allocator.h"
#include "cni/error.h"
#include "config.h"
#include "store.h"
#include "support.h"

namespace fs = std::filesystem;
using hostlocal::Allocator;
using hostlocal::Range;
using hostlocal::RangeIter;
using hostlocal::RangeSet;
using hostlocal::Store;

namespace {

struct TempDir : weft::test::TempDir {
  TempDir() : weft::test::TempDir("hl") {}
  fs::path net() const { return path / "net"; }
};

cni::IP Ip(const char* s) { return *cni::IP::Parse(s); }

RangeSet Set(const std::vector<const char*>& subnets) {
  RangeSet s;
  for (const char* sn : subnets) {
    Range r;
    r.subnet = *cni::IPNet::Parse(sn);
    r.mask_bits = std::string(sn).find(':') != std::string::npos ? 128 : 32;
    s.ranges.push_back(r);
  }
  s.Canonicalize();
  return s;
}

void WriteFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string GetError(Allocator& a, const char* id, std::optional<cni::IP> req = std::nullopt) {
  try {
    a.Get(id, "eth0", req);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "<no error>";
}

std::vector<std::string> Walk(RangeIter it) {
  std::vector<std::string> out;
  while (auto c = it.Next()) out.push_back(c->first.String());
  return out;
}

}  // namespace

TEST_CASE("host-local RangeIter order", "[host-local]") {
  RangeSet s = Set({"192.168.1.0/29"});
  CHECK(Walk(RangeIter(s, std::nullopt)) ==
        std::vector<std::string>{"192.168.1.2", "192.168.1.3", "192.168.1.4", "192.168.1.5", "192.168.1.6"});
  CHECK(Walk(RangeIter(s, Ip("192.168.1.6"))) ==
        std::vector<std::string>{"192.168.1.2", "192.168.1.3", "192.168.1.4", "192.168.1.5", "192.168.1.6"});
  CHECK(Walk(RangeIter(s, Ip("192.168.1.3"))) ==
        std::vector<std::string>{"192.168.1.4", "192.168.1.5", "192.168.1.6", "192.168.1.2", "192.168.1.3"});

  // Multi-range: explicit windows 192.168.1.0-3 and 192.168.2.0-3.
  RangeSet m;
  for (const char* sn : {"192.168.1.0/30", "192.168.2.0/30"}) {
    Range r;
    r.subnet = *cni::IPNet::Parse(sn);
    r.mask_bits = 32;
    std::string base(sn, std::string(sn).find('/') - 1);
    r.range_start = Ip((base + "0").c_str());
    r.range_end = Ip((base + "3").c_str());
    m.ranges.push_back(r);
  }
  m.Canonicalize();
  RangeIter a(m, Ip("192.168.1.3"));
  REQUIRE(a.Next());
  CHECK(a.start_ip() == Ip("192.168.2.0"));
  RangeIter b(m, std::nullopt);
  REQUIRE(b.Next());
  CHECK(b.start_ip() == Ip("192.168.1.0"));
}

TEST_CASE("host-local round robin table", "[host-local]") {
  struct Case {
    std::vector<const char*> subnets;
    std::vector<const char*> taken;
    const char* last;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {{"10.0.0.0/29"}, {}, nullptr, "10.0.0.2"},
      {{"2001:db8:1::0/64"}, {}, nullptr, "2001:db8:1::2"},
      {{"10.0.0.0/30"}, {}, nullptr, "10.0.0.2"},
      {{"10.0.0.0/29"}, {"10.0.0.2"}, nullptr, "10.0.0.3"},
      {{"10.0.0.0/29"}, {}, "10.0.0.5", "10.0.0.6"},
      {{"10.0.0.0/29"}, {"10.0.0.4", "10.0.0.5"}, "10.0.0.3", "10.0.0.6"},
      {{"10.0.0.0/29"}, {"10.0.0.6"}, "10.0.0.5", "10.0.0.2"},
      {{"10.0.0.0/29"}, {"10.0.0.2"}, "10.0.0.128", "10.0.0.3"},
      {{"10.0.0.0/29"}, {"10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"}, "10.0.0.3", "10.0.0.3"},
      {{"10.0.0.0/30", "10.0.1.0/30"}, {}, nullptr, "10.0.0.2"},
      {{"10.0.0.0/30", "10.0.1.0/30"}, {}, "10.0.0.2", "10.0.1.2"},
      {{"10.0.0.0/30", "10.0.1.0/30", "10.0.2.0/30"}, {}, "10.0.2.2", "10.0.0.2"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    TempDir t;
    for (const char* ip : cases[i].taken) WriteFile(t.net() / ip, "other\r\neth0");
    if (cases[i].last) WriteFile(t.net() / "last_reserved_ip.0", cases[i].last);
    RangeSet s = Set(cases[i].subnets);
    Store store(t.path.string(), "net");
    Allocator a(s, store, 0);
    auto got = a.Get("ID", "eth0", std::nullopt);
    CHECK(got.address.ip.String() == cases[i].expect);
    CHECK(ReadFile(t.net() / cases[i].expect) == "ID\r\neth0");
    CHECK(ReadFile(t.net() / "last_reserved_ip.0") == cases[i].expect);
  }
}

TEST_CASE("host-local allocator: broadcast, round robin, requested IPs, exhaustion", "[host-local]") {
  TempDir t;
  RangeSet s = Set({"192.168.1.0/29"});
  {
    Store store(t.path.string(), "net");
    Allocator a(s, store, 0);
    for (int i = 2; i <= 6; ++i) {
      auto got = a.Get(("ID" + std::to_string(i)).c_str(), "eth0", std::nullopt);
      CHECK(got.address.String() == "192.168.1." + std::to_string(i) + "/29");
      CHECK(got.gateway == Ip("192.168.1.1"));
    }
    CHECK(GetError(a, "ID7") == "no IP addresses available in range set: 192.168.1.1-192.168.1.6");
  }
  TempDir t2;
  {
    Store store(t2.path.string(), "net");
    Allocator a(s, store, 0);
    CHECK(a.Get("A", "eth0", std::nullopt).address.ip == Ip("192.168.1.2"));
    a.Release("A", "eth0");
    CHECK(a.Get("A", "eth0", std::nullopt).address.ip == Ip("192.168.1.3"));
    CHECK(GetError(a, "A") == "192.168.1.3 has been allocated to A, duplicate allocation is not allowed");
    CHECK(a.Get("B", "eth0", Ip("192.168.1.5")).address.ip == Ip("192.168.1.5"));
    CHECK(GetError(a, "C", Ip("192.168.1.5")) ==
          "requested IP address 192.168.1.5 is not available in range set 192.168.1.1-192.168.1.6");
    CHECK(GetError(a, "C", Ip("192.168.1.1")) == "requested ip 192.168.1.1 is subnet's gateway");
    CHECK(GetError(a, "C", Ip("192.168.1.7")) == "192.168.1.7 not in range set 192.168.1.1-192.168.1.6");
    CHECK(ReadFile(t2.net() / "last_reserved_ip.0") == "192.168.1.5");
  }
  // Out of addresses: a /30 with .2 taken; two /30s with both .2 taken.
  for (auto subnets : {std::vector<const char*>{"10.0.0.0/30"}, std::vector<const char*>{"10.0.0.0/30", "10.0.1.0/30"}}) {
    TempDir t3;
    for (const char* sn : subnets) WriteFile(t3.net() / (std::string(sn, std::string(sn).size() - 4) + "2"), "x\r\neth0");
    RangeSet rs;
    for (const char* sn : subnets) {
      Range r;
      r.subnet = *cni::IPNet::Parse(sn);
      r.mask_bits = 32;
      rs.ranges.push_back(r);
    }
    rs.Canonicalize();
    Store store(t3.path.string(), "net");
    Allocator a(rs, store, 0);
    CHECK_THAT(GetError(a, "new"), Catch::StartsWith("no IP addresses available in range set"));
  }
}

TEST_CASE("host-local store: legacy files, whitespace, files made behind its back", "[host-local]") {
  TempDir t;
  RangeSet s = Set({"10.1.2.0/24"});
  {
    Store store(t.path.string(), "net");
    Allocator a(s, store, 0);
    CHECK(a.Get("   dummy\n ", "eth0", std::nullopt).address.ip == Ip("10.1.2.2"));
  }
  CHECK(ReadFile(t.net() / "10.1.2.2") == "dummy\r\neth0");
  // Rewrite as a pre-0.7 legacy file (content changed in place: the store must still find it).
  WriteFile(t.net() / "10.1.2.2", "dummy");
  // A reservation created by another program while weft was not looking.
  WriteFile(t.net() / "10.1.2.77", "other\r\neth1");
  {
    Store store(t.path.string(), "net");
    CHECK(store.rebuilt());
    CHECK(store.FindByID("other", "eth1"));
    CHECK_FALSE(store.FindByID("other", "eth0"));
    CHECK(store.FindByID("dummy", "eth9"));  // legacy id-only matches any ifname
    Allocator a(s, store, 0);
    CHECK(GetError(a, "dummy") == "10.1.2.2 has been allocated to dummy, duplicate allocation is not allowed");
    a.Release("   dummy\n ", "eth0");
  }
  CHECK_FALSE(fs::exists(t.net() / "10.1.2.2"));
  CHECK(fs::exists(t.net() / "10.1.2.77"));
  {
    Store store(t.path.string(), "net");
    CHECK_FALSE(store.rebuilt());  // nothing changed since weft's last session
    store.ReleaseByID("other", "eth1");
  }
  CHECK_FALSE(fs::exists(t.net() / "10.1.2.77"));
  // Unknown id and a second release succeed.
  {
    Store store(t.path.string(), "net");
    store.ReleaseByID("never", "eth0");
    store.ReleaseByID("other", "eth1");
  }
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(t.net())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"last_reserved_ip.0", "lock"});
}

TEST_CASE("host-local store: files are 0600, symlinks are not followed", "[host-local]") {
  TempDir t;
  RangeSet s = Set({"10.1.2.0/24"});
  mode_t old = umask(022);
  {
    Store store(t.path.string(), "net");
    Allocator(s, store, 0).Get("c1", "eth0", std::nullopt);
  }
  umask(old);
  struct stat st {};
  REQUIRE(stat((t.net() / "10.1.2.2").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(stat((t.net() / "last_reserved_ip.0").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  // A symlink planted as a reservation is neither read nor matched.
  WriteFile(t.path / "secret", "c9\r\neth0");
  fs::create_symlink(t.path / "secret", t.net() / "10.1.2.9");
  {
    Store store(t.path.string(), "net");
    CHECK_FALSE(store.FindByID("c9", "eth0"));
    // ...and its address is still never handed out (the name exists).
    WriteFile(t.net() / "last_reserved_ip.0", "10.1.2.8");
  }
  {
    Store store(t.path.string(), "net");
    CHECK(Allocator(s, store, 0).Get("c2", "eth0", std::nullopt).address.ip == Ip("10.1.2.10"));
  }
  CHECK(ReadFile(t.path / "secret") == "c9\r\neth0");
}

TEST_CASE("host-local store: index survives many reservations and stays exact", "[host-local]") {
  TempDir t;
  RangeSet s = Set({"10.20.0.0/16"});
  {
    Store store(t.path.string(), "net");
    Allocator a(s, store, 0);
    for (int i = 0; i < 3000; ++i) a.Get(("c" + std::to_string(i)).c_str(), "eth0", std::nullopt);
  }
  {
    Store store(t.path.string(), "net");
    CHECK_FALSE(store.rebuilt());
    CHECK(store.ReservedIPs().size() == 3000);
    for (int i = 0; i < 3000; i += 2) store.ReleaseByID("c" + std::to_string(i), "eth0");
    CHECK(store.ReservedIPs().size() == 1500);
  }
  {
    Store store(t.path.string(), "net");
    CHECK_FALSE(store.rebuilt());
    for (int i = 0; i < 3000; ++i) CHECK(store.FindByID("c" + std::to_string(i), "eth0") == (i % 2 == 1));
  }
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(t.net())) files += e.path().filename().string()[0] == '1' ? 1 : 0;
  CHECK(files == 1500);
}

TEST_CASE("host-local store: works without a writable index", "[host-local]") {
  TempDir t;
  WriteFile(t.path / ".weft-host-local", "not a directory");
  RangeSet s = Set({"10.21.0.0/24"});
  for (int round = 0; round < 2; ++round) {
    Store store(t.path.string(), "net");
    CHECK(store.rebuilt());  // every session rescans
    Allocator a(s, store, 0);
    CHECK(a.Get(("c" + std::to_string(round)).c_str(), "eth0", std::nullopt).address.ip.String() ==
          "10.21.0." + std::to_string(2 + round));
    CHECK(store.FindByID("c0", "eth0"));
  }
  {
    Store store(t.path.string(), "net");
    store.ReleaseByID("c0", "eth0");
    store.ReleaseByID("c1", "eth0");
  }
  CHECK_FALSE(fs::exists(t.net() / "10.21.0.2"));
  CHECK_FALSE(fs::exists(t.net() / "10.21.0.3"));
}
