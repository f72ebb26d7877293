// See queue.h.
#include "queue.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "cni/error.h"
#include "cni/files.h"

namespace cni::fw {

namespace {

nlohmann::json ChainJson(const Chain& c) {
  return {{"table", c.table},
          {"name", c.name},
          {"entry_chains", c.entry_chains},
          {"entry_rules", c.entry_rules},
          {"rules", c.rules},
          {"head_rules", c.head_rules},
          {"prepend_entry", c.prepend_entry},
          {"teardown", static_cast<int>(c.teardown)}};
}

Chain ChainFrom(const nlohmann::json& j) {
  Chain c;
  c.table = j.at("table").get<std::string>();
  c.name = j.at("name").get<std::string>();
  c.entry_chains = j.at("entry_chains").get<std::vector<std::string>>();
  c.entry_rules = j.at("entry_rules").get<std::vector<Args>>();
  c.rules = j.at("rules").get<std::vector<Args>>();
  c.head_rules = j.at("head_rules").get<std::vector<Args>>();
  c.prepend_entry = j.at("prepend_entry").get<bool>();
  c.teardown = static_cast<TeardownPolicy>(j.at("teardown").get<int>());
  return c;
}

// The pid a request file name starts with, 0 when it has none.
pid_t PidOf(const std::string& name) {
  pid_t pid = 0;
  for (char ch : name) {
    if (ch < '0' || ch > '9') break;
    pid = pid * 10 + (ch - '0');
    if (pid > 4194304) return 0;  // above PID_MAX_LIMIT
  }
  return pid;
}

}  // namespace

RequestQueue::RequestQueue(uint64_t netns_inode)
    : dir_("/run/weft/fwq-" + std::to_string(netns_inode)) {}

std::string RequestQueue::Serialize(uint64_t cookie, Family family, bool ensure,
                                    std::span<const Chain> chains) {
  nlohmann::json j = {{"cookie", cookie},
                      {"family", static_cast<int>(family)},
                      {"ensure", ensure},
                      {"chains", nlohmann::json::array()}};
  for (const Chain& c : chains) j["chains"].push_back(ChainJson(c));
  return j.dump();
}

std::optional<QueuedRequest> RequestQueue::Parse(const std::string& text, uint64_t cookie,
                                                 Family family) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.at("cookie").get<uint64_t>() != cookie) return std::nullopt;
    if (j.at("family").get<int>() != static_cast<int>(family)) return std::nullopt;
    QueuedRequest r;
    r.ensure = j.at("ensure").get<bool>();
    for (const nlohmann::json& c : j.at("chains")) r.chains.push_back(ChainFrom(c));
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> RequestQueue::Submit(uint64_t cookie, Family family, bool ensure,
                                                std::span<const Chain> chains) {
  static std::atomic<unsigned> counter{0};  // threads of one process queue separately
  std::string base = dir_ + "/" + std::to_string(getpid()) + "." + std::to_string(++counter);
  try {
    EnsureDir(dir_, 0700);
    WriteFileAtomic(base + ".req", Serialize(cookie, family, ensure, chains), 0600);
  } catch (const Error&) {
    return std::nullopt;
  }
  return base;
}

bool RequestQueue::TakeDone(const std::string& base) {
  if (unlink((base + ".done").c_str()) == 0) return true;
  Withdraw(base);
  return false;
}

void RequestQueue::Withdraw(const std::string& base) {
  for (const char* suffix : {".req", ".claimed", ".done"}) unlink((base + suffix).c_str());
}

std::vector<QueuedRequest> RequestQueue::Claim(uint64_t cookie, Family family) {
  std::vector<QueuedRequest> out;
  DIR* d = opendir(dir_.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name[0] == '.') continue;
    pid_t pid = PidOf(name);
    if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) {  // its caller is gone (killed)
      unlink((dir_ + "/" + name).c_str());
      continue;
    }
    if (name.ends_with(".req")) names.push_back(name);
  }
  closedir(d);
  for (const std::string& name : names) {
    std::string path = dir_ + "/" + name;
    std::optional<std::string> text;
    try {
      text = ReadFile(path);
    } catch (const Error&) {
      continue;  // unreadable: its caller commits it
    }
    if (!text) continue;
    std::optional<QueuedRequest> r = Parse(*text, cookie, family);
    if (!r) continue;  // another family's (or unreadable): its caller commits it
    r->base = path.substr(0, path.size() - 4);
    if (rename(path.c_str(), (r->base + ".claimed").c_str()) != 0) continue;  // withdrawn
    out.push_back(std::move(*r));
  }
  return out;
}

void RequestQueue::Finish(const std::vector<QueuedRequest>& claimed, bool committed) {
  for (const QueuedRequest& r : claimed)
    rename((r.base + ".claimed").c_str(), (r.base + (committed ? ".done" : ".req")).c_str());
}

}  // namespace cni::fw
