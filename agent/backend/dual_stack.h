// Dual stack and IPv6 only for the entry backends (vxlan, host-gw): one backend instance per
// enabled family (each with its own device, overlay network and programmed entries, see
// VxlanBackend/HostGwBackend's `v6`), driven as one Backend. Every call goes to each family; the
// IPv4 side's BackendData and the IPv6 side's BackendData become the lease's BackendData and
// BackendV6Data, as flanneld writes them. FLANNEL_MTU is the IPv4 side's MTU when IPv4 is
// enabled (flanneld's value), else the IPv6 device's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/backend/backend.h"

namespace weft::agent {

class DualStackBackend : public Backend {
 public:
  /// `v4`, `v6`: the families' backends, either may be null (not both).
  DualStackBackend(std::unique_ptr<Backend> v4, std::unique_ptr<Backend> v6);
  std::string Type() const override;
  OwnSetup Init() override;
  void ConfigureOwn(const Lease& own) override;
  void SetPeers(const std::vector<Lease>& peers) override;
  void AddPeer(const Lease& peer) override;
  void RemovePeer(const Lease& peer) override;
  void Flush() override;
  CheckResult Check() override;
  size_t ProgrammedPeers() const override;

 private:
  std::unique_ptr<Backend> v4_, v6_;
  std::vector<Backend*> all_;
};

}  // namespace weft::agent
