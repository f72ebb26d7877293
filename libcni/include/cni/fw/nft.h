// Native nftables through libnftables, for the reference's newest layouts (portmap's
// `ip`/`ip6 cni_hostport`, ipMasq's `inet cni_plugins_masquerade`), where rules of many
// containers share chains and are told apart by their comment. A batch of nft commands runs as
// one transaction (nft_run_cmd_from_buffer); listings parse nft's text output with rule handles,
// so a DEL is "list once, delete by handle in one batch". libnftables (and its dependency tree)
// is dlopen'ed on first use, so binaries that never pick nftables don't load it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cni::fw {

struct NftRule {
  std::string chain;
  uint64_t handle = 0;
  std::string comment;
  std::string text;  // the rule body as `nft list` prints it, without comment and handle
};

class Nft {
 public:
  /// Throws cni::Error when libnftables cannot be loaded.
  Nft();
  ~Nft();
  Nft(const Nft&) = delete;
  Nft& operator=(const Nft&) = delete;

  /// Runs `batch` (newline-separated nft commands) as one transaction. Throws cni::Error with
  /// nft's error text.
  void Run(const std::string& batch);

  /// Whether nft accepts `batch` in a dry run (`nft --check`: parsed and validated, nothing
  /// committed), e.g. to learn whether the kernel knows a statement option.
  bool Check(const std::string& batch);

  /// Every rule of `family table` (e.g. "ip", "cni_hostport"), in chain order; an absent table
  /// gives an empty list.
  std::vector<NftRule> ListRules(std::string_view family, std::string_view table);

  /// Whether libnftables loads and can talk to the kernel here.
  static bool Usable();

 private:
  std::string RunCapture(const std::string& cmd, int* rc, bool dry_run = false);
  void* ctx_ = nullptr;
};

/// Quotes a string as an nft comment literal: "..." with double quotes removed (the reference
/// strips them), cut to nft's 128-byte limit.
std::string NftComment(std::string_view s);

}  // namespace cni::fw
