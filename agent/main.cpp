// weftd: flanneld-compatible node agent; the flags (agent/flags.h) are flanneld's. main() wires
// the subnet manager (etcd, or Node objects with --kube-subnet-mgr) and the backend registry to
// the control loop. SIGTERM/SIGINT stop the
// agent and leave every kernel entry, rule and subnet.env in place, so pod traffic survives a
// restart.
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "agent/agent.h"
#include "agent/backend/backend.h"
#include "agent/flags.h"
#include "agent/healthz.h"
#include "agent/runtime.h"
#include "agent/subnet/etcd/manager.h"
#include "agent/subnet/kube/manager.h"
#include "agent/subnet/subnet_env.h"
#include "cni/error.h"
#include "cni/files.h"

int main(int argc, char** argv) {
  using namespace weft::agent;
  AgentOptions o;
  if (auto exit_code = ParseFlags(std::vector<std::string>(argv, argv + argc), o, std::cout, std::cerr))
    return *exit_code;
  if (!o.kube_subnet_mgr && (o.etcd.certfile.empty() || o.etcd.keyfile.empty()))
    Log('W', "connecting to etcd with http. This is insecure");

  // Signals go to a dedicated thread; every other thread inherits the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    Runtime rt;
    std::atomic<Agent*> running{nullptr};
    std::thread sig([&] {
      int s = 0;
      sigwait(&set, &s);
      Log('I', std::string("received ") + (s == SIGTERM ? "SIGTERM" : "SIGINT") + ", exiting (kernel state is kept)");
      rt.Stop();  // also ends the kube manager's start-up waits
      if (Agent* a = running.load()) a->Stop();
    });
    sig.detach();
    std::unique_ptr<SubnetManager> manager;
    const std::string wireguard_go = o.wireguard_go;
    BackendFactory make_backend = [wireguard_go](const NetworkConfig& c, const ExtIface& e) {
      return MakeBackend(c, e, wireguard_go);
    };
    std::unique_ptr<HealthServer> health;
    if (o.healthz_port > 0)
      health = std::make_unique<HealthServer>(o.healthz_ip, o.healthz_port, [&] { return rt.NotReadyReason(); },
                                              [&] { return rt.metrics().Render(); });
    if (o.kube_subnet_mgr) {
      auto kube = std::make_unique<kube::KubeSubnetManager>(o.kube, rt);
      kube->Start();  // the node name, and what the own Node already says
      if (auto ip = kube->stored_public_ip()) o.iface.public_ip = ip->String();
      if (auto ip = kube->stored_public_ip6()) o.iface.public_ipv6 = ip->String();
      if (kube->stored_vtep_mac() || kube->stored_vtep_mac6())
        make_backend = [mac = kube->stored_vtep_mac().value_or(""), mac6 = kube->stored_vtep_mac6().value_or(""),
                        wireguard_go](const NetworkConfig& cfg, const ExtIface& ext) {
          NetworkConfig c = cfg;
          c.backend.vtep_mac = mac;
          c.backend.vtep_mac6 = mac6;
          return MakeBackend(c, ext, wireguard_go);
        };
      manager = std::move(kube);
    } else {
      EtcdManagerOptions etcd = o.EtcdManager();
      if (auto env = cni::ReadFile(o.subnet_file)) etcd.previous_subnet6 = ReadPreviousSubnet(*env, 6);
      manager = std::make_unique<EtcdSubnetManager>(etcd, rt);
    }
    Agent agent(o, rt, *manager, make_backend);
    running = &agent;
    struct Unpublish {  // destroyed before `agent`, also when Run throws
      std::atomic<Agent*>& p;
      ~Unpublish() { p = nullptr; }
    } unpublish{running};
    if (!rt.stopped()) agent.Run();
  } catch (const cni::Error& e) {
    Log('E', e.msg());
    return 1;
  } catch (const std::exception& e) {
    Log('E', e.what());
    return 1;
  }
  return 0;
}
