// macspoofchk rules through fw::Nft; see spoofcheck.h.
#include "spoofcheck.h"

#include "cni/fw/nft.h"

namespace bridge {
namespace {

std::string DeleteExisting(cni::fw::Nft& nft, const std::string& ref_id, bool chains) {
  std::string comment = "macspoofchk-" + ref_id, chain = "cni-br-iface-" + ref_id;
  std::string batch;
  bool have_chain = false, have_mac = false;
  for (const auto& r : nft.ListRules("bridge", "nat")) {
    if (r.chain == "PREROUTING" && r.comment == comment)
      batch += "delete rule bridge nat PREROUTING handle " + std::to_string(r.handle) + "\n";
    have_chain |= r.chain == chain;
    have_mac |= r.chain == chain + "-mac";
  }
  if (chains) {
    if (have_chain) batch += "flush chain bridge nat " + chain + "\ndelete chain bridge nat " + chain + "\n";
    if (have_mac) batch += "flush chain bridge nat " + chain + "-mac\ndelete chain bridge nat " + chain + "-mac\n";
  }
  return batch;
}

}  // namespace

void SetupSpoofCheck(const std::string& host_veth, const std::string& mac, const std::string& ref_id) {
  cni::fw::Nft nft;
  std::string chain = "cni-br-iface-" + ref_id;
  std::string c = " comment " + cni::fw::NftComment("macspoofchk-" + ref_id) + "\n";
  std::string batch =
      "add table bridge nat\n"
      "add chain bridge nat PREROUTING { type filter hook prerouting priority -300 ; policy accept ; }\n"
      "add chain bridge nat " + chain + "\n"
      "add chain bridge nat " + chain + "-mac\n" +
      DeleteExisting(nft, ref_id, false) +
      "flush chain bridge nat " + chain + "\n"
      "flush chain bridge nat " + chain + "-mac\n"
      "add rule bridge nat PREROUTING iifname \"" + host_veth + "\" jump " + chain + c +
      "add rule bridge nat " + chain + " jump " + chain + "-mac" + c +
      "add rule bridge nat " + chain + "-mac ether saddr " + mac + " return" + c +
      "add rule bridge nat " + chain + "-mac drop" + c;
  nft.Run(batch);
}

void TeardownSpoofCheck(const std::string& ref_id) {
  cni::fw::Nft nft;
  std::string batch = DeleteExisting(nft, ref_id, true);
  if (!batch.empty()) nft.Run(batch);
}

}  // namespace bridge
