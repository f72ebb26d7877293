// Delegation by exec (FindInPath, ExecPlugin, error propagation) and the state-file helpers
// (atomic write, symlink-safe read, bounded flock), against real files in a temp dir.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cni/error.h"
#include "cni/files.h"
#include "cni/invoke.h"
#include "support.h"

namespace fs = std::filesystem;

namespace {

using weft::test::TempDir;

void WriteScript(const fs::path& p, const std::string& body) {
  std::ofstream(p) << "#!/bin/sh\n" << body;
  fs::permissions(p, fs::perms::owner_all);
}

cni::Error Caught(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cni::Error& e) {
    return e;
  }
  FAIL("no cni::Error thrown");
  return cni::Error(0, "");
}

}  // namespace

TEST_CASE("FindInPath follows libcni's rules", "[invoke]") {
  TempDir a, b;
  WriteScript(b.path / "ipam", "exit 0\n");
  fs::create_directory(a.path / "ipam");  // a directory of that name is not a plugin
  std::string path = a.path.string() + ":" + b.path.string();
  CHECK(cni::FindInPath("ipam", path) == (b.path / "ipam").string());
  CHECK(Caught([&] { cni::FindInPath("nope", path); }).msg() ==
        "failed to find plugin \"nope\" in path [" + a.path.string() + " " + b.path.string() + "]");
  CHECK(Caught([&] { cni::FindInPath("", path); }).msg() == "no plugin name provided");
  CHECK(Caught([&] { cni::FindInPath("../ipam", path); }).msg() == "invalid plugin name: ../ipam");
}

TEST_CASE("ExecPlugin passes env and stdin and propagates the delegate's error code", "[invoke]") {
  TempDir d;
  WriteScript(d.path / "echo", "printf '%s|' \"$CNI_COMMAND\" \"$FOO\"; cat\n");
  cni::Env env{{"CNI_PATH", d.path.string()}, {"FOO", "bar"}};
  CHECK(cni::Delegate("echo", "ADD", env, "{\"x\":1}") == "ADD|bar|{\"x\":1}");

  WriteScript(d.path / "fail", "cat >/dev/null; printf '{\"code\": 11, \"msg\": \"later\", \"details\": \"d\"}'; exit 1\n");
  cni::Error e = Caught([&] { cni::Delegate("fail", "ADD", env, "{}"); });
  CHECK(e.code() == 11);
  CHECK(e.msg() == "later");
  CHECK(e.details() == "d");

  WriteScript(d.path / "stderr", "echo oops >&2; exit 2\n");
  e = Caught([&] { cni::Delegate("stderr", "DEL", env, "{}"); });
  CHECK(e.msg() == "netplugin failed: \"oops\\n\"");

  WriteScript(d.path / "silent", "exit 3\n");
  CHECK(Caught([&] { cni::Delegate("silent", "DEL", env, ""); }).msg() ==
        "netplugin failed with no error message: exit status 3");

  // A large stdin and stdout do not deadlock the pipes.
  std::string big(1 << 20, 'x');
  CHECK(cni::Delegate("echo", "ADD", env, big).size() == big.size() + 8);  // "ADD|bar|" + stdin
}

TEST_CASE("DelegateAdd parses the delegate's result in the given version", "[invoke]") {
  TempDir d;
  WriteScript(d.path / "ipam",
              "cat >/dev/null; printf '{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\",\"address\":\"10.1.0.2/24\"}]}'\n");
  cni::Result r = cni::DelegateAdd("ipam", {{"CNI_PATH", d.path.string()}}, "{}", "1.0.0");
  REQUIRE(r.ips.size() == 1);
  CHECK(r.ips[0].address.String() == "10.1.0.2/24");
}

TEST_CASE("WriteFileAtomic replaces whole files with the given mode", "[files]") {
  TempDir d;
  std::string p = (d.path / "state").string();
  cni::WriteFileAtomic(p, "one", 0600);
  cni::WriteFileAtomic(p, "two", 0600);
  CHECK(cni::ReadFile(p) == "two");
  struct stat st {};
  REQUIRE(stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temp files are left behind.
  CHECK(std::distance(fs::directory_iterator(d.path), fs::directory_iterator()) == 1);
  CHECK_FALSE(cni::ReadFile((d.path / "missing").string()));
}

TEST_CASE("ReadFile never follows a symlink", "[files]") {
  TempDir d;
  std::ofstream(d.path / "target") << "secret";
  fs::create_symlink(d.path / "target", d.path / "link");
  CHECK_THROWS_AS(cni::ReadFile((d.path / "link").string()), cni::Error);
  fs::create_directory(d.path / "dir");
  CHECK_THROWS_AS(cni::ReadFile((d.path / "dir").string()), cni::Error);
}

TEST_CASE("FileLock waits a bounded time and then fails with code 11", "[files]") {
  TempDir d;
  std::string p = (d.path / "lock").string();
  cni::UniqueFd holder(open(p.c_str(), O_RDONLY | O_CREAT, 0600));
  REQUIRE(flock(holder.get(), LOCK_EX) == 0);
  // flock locks belong to open file descriptions, so a second open in this process contends.
  auto start = std::chrono::steady_clock::now();
  cni::Error e = Caught([&] { cni::FileLock lock(p, 0600, std::chrono::milliseconds(100)); });
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(e.code() == 11);
  CHECK(waited >= std::chrono::milliseconds(100));
  flock(holder.get(), LOCK_UN);
  CHECK_NOTHROW(cni::FileLock(p, 0600, std::chrono::milliseconds(100)));
}
