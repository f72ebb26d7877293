// The per-family pair of entry backends (see dual_stack.h).
#include "agent/backend/dual_stack.h"

#include <algorithm>

namespace weft::agent {

DualStackBackend::DualStackBackend(std::unique_ptr<Backend> v4, std::unique_ptr<Backend> v6)
    : v4_(std::move(v4)), v6_(std::move(v6)) {
  if (v4_) all_.push_back(v4_.get());
  if (v6_) all_.push_back(v6_.get());
}

std::string DualStackBackend::Type() const { return all_.front()->Type(); }

OwnSetup DualStackBackend::Init() {
  OwnSetup out;
  if (v4_) out = v4_->Init();
  if (v6_) {
    OwnSetup s6 = v6_->Init();
    out.backend_v6_data = std::move(s6.backend_data);
    if (!v4_) out.mtu = s6.mtu;
  }
  return out;
}

void DualStackBackend::ConfigureOwn(const Lease& own) {
  for (Backend* b : all_) b->ConfigureOwn(own);
}
void DualStackBackend::SetPeers(const std::vector<Lease>& peers) {
  for (Backend* b : all_) b->SetPeers(peers);
}
void DualStackBackend::AddPeer(const Lease& peer) {
  for (Backend* b : all_) b->AddPeer(peer);
}
void DualStackBackend::RemovePeer(const Lease& peer) {
  for (Backend* b : all_) b->RemovePeer(peer);
}
void DualStackBackend::Flush() {
  for (Backend* b : all_) b->Flush();
}

CheckResult DualStackBackend::Check() {
  CheckResult out;
  if (v4_) out = v4_->Check();
  if (v6_) {
    CheckResult r6 = v6_->Check();
    out.repaired += r6.repaired;
    out.backend_v6_data = std::move(r6.backend_data);
  }
  return out;
}

// A peer counts when one of its families is programmed: the larger of the two counts (a
// dual-stack peer is programmed on both sides, a v4-only one on the IPv4 side only).
size_t DualStackBackend::ProgrammedPeers() const {
  size_t n = 0;
  for (const Backend* b : all_) n = std::max(n, b->ProgrammedPeers());
  return n;
}

}  // namespace weft::agent
