// The Kubernetes subnet manager (see manager.h).
#include "agent/subnet/kube/manager.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cni/encoding.h"
#include "cni/error.h"

namespace weft::agent::kube {

using nlohmann::json;

namespace {

constexpr char kStrategicMerge[] = "application/strategic-merge-patch+json";

bool Retryable(const cni::Error& e) { return e.code() == cni::kTryAgainLater; }

std::string UrlEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

KubeSubnetManager::KubeSubnetManager(KubeOptions opts, Runtime& rt)
    : opts_(std::move(opts)),
      rt_(rt),
      ann_(Annotations::FromPrefix(opts_.annotation_prefix)),
      client_(BuildConnection(opts_.api_url, opts_.kubeconfig_file, [](const char* k) {
        const char* v = std::getenv(k);
        return std::string(v ? v : "");
      })) {
  if (opts_.node_name.empty() && (opts_.pod_name.empty() || opts_.pod_namespace.empty()))
    throw cni::Error(cni::kInvalidEnvironment, "env variables POD_NAME and POD_NAMESPACE must be set");
  rt_.metrics().RegisterStore("kube");
  Log('I', "kube subnet manager: API server " + client_.connection().server + " (" + client_.connection().source + ")");
}

bool KubeSubnetManager::Retry(const std::string& what, const std::function<void()>& fn) {
  auto backoff = std::chrono::milliseconds(100);
  while (!rt_.stopped()) {
    try {
      fn();
      return true;
    } catch (const cni::Error& e) {
      rt_.metrics().StoreRequestError("kube");
      if (!Retryable(e)) throw;
      rt_.SetNotReady(what + ": " + e.msg());
      if (!rt_.SleepFor(backoff)) return false;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  return false;
}

void KubeSubnetManager::Start() {
  node_name_ = opts_.node_name;
  if (node_name_.empty()) {
    const std::string id = opts_.pod_namespace + "/" + opts_.pod_name;
    Retry("retrieving pod spec for '" + id + "'", [&] {
      json pod;
      try {
        pod = client_.Get("/api/v1/namespaces/" + UrlEscape(opts_.pod_namespace) + "/pods/" + UrlEscape(opts_.pod_name));
      } catch (const cni::Error& e) {
        if (Retryable(e)) throw;
        throw cni::Error(e.code(), "error retrieving pod spec for '" + id + "': " + e.msg());
      }
      node_name_ = pod.value("spec", json::object()).value("nodeName", "");
      if (node_name_.empty()) throw cni::Error(cni::kInvalidEnvironment, "node name not present in pod spec '" + id + "'");
    });
    if (rt_.stopped()) return;
    Log('I', "node name " + node_name_ + " from pod " + id);
  }
  Retry("reading Node " + node_name_, [&] {
    auto obj = client_.Find(NodePath());
    if (!obj) return;
    Node n = ParseNode(*obj);
    stored_mac_ = StoredVtepMac(n, ann_);
    stored_mac6_ = StoredVtepMac(n, ann_, true);
    stored_public_ip_ = StoredPublicIP(n, ann_);
    stored_public_ip6_ = StoredPublicIP(n, ann_, true);
  });
  if (stored_mac_) Log('I', "VtepMAC " + *stored_mac_ + " read back from " + ann_.backend_data);
  if (stored_mac6_) Log('I', "IPv6 VtepMAC " + *stored_mac6_ + " read back from " + ann_.backend_v6_data);
  if (stored_public_ip_) Log('I', "public IP " + stored_public_ip_->String() + " from " + ann_.node_public_ip);
  if (stored_public_ip6_) Log('I', "public IPv6 " + stored_public_ip6_->String() + " from " + ann_.node_public_ipv6);
}

NetworkConfig KubeSubnetManager::GetNetworkConfig() {
  std::ifstream f(opts_.net_config_path, std::ios::binary);
  if (!f) throw cni::Error(cni::kInvalidNetworkConfig, "failed to read net conf: open " + opts_.net_config_path + ": " +
                                                           std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  try {
    cfg_ = ParseConfig(ss.str());
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInvalidNetworkConfig, "error parsing subnet config: " + e.msg());
  }
  // flanneld waits for its Node informer to sync before anything else (up to 10 minutes, then
  // exits unless CONT_WHEN_CACHE_NOT_READY=true): here, the first list of Nodes.
  if (!synced_) {
    try {
      std::string rv;
      List(&rv);
      synced_ = true;
    } catch (const cni::Error& e) {
      if (!Retryable(e)) throw;
      auto now = std::chrono::steady_clock::now();
      if (!first_list_failure_) first_list_failure_ = now;
      if (now - *first_list_failure_ < opts_.sync_timeout) throw;
      if (!opts_.cont_when_cache_not_ready)
        throw cni::Error(cni::kInvalidEnvironment, "error waiting for nodeController to sync state: " + e.msg());
      Log('E', "Timed out waiting for node controller sync. Continuing anyway.");
      synced_ = true;  // WatchLeases lists again
    }
  }
  return cfg_;
}

void KubeSubnetManager::Publish(const Node& node, const LeaseAttrs& attrs) {
  auto patch = AnnotationPatch(node, ann_, attrs);
  if (!patch) return;
  Retry("patching Node " + node_name_ + " annotations", [&] {
    client_.Patch(NodePath() + "/status", *patch, kStrategicMerge);
  });
  Log('I', "annotated Node " + node_name_ + ": " + *patch);
}

Lease KubeSubnetManager::AcquireLease(const LeaseAttrs& attrs, const std::optional<cni::IPNet>& /*previous*/) {
  // The subnet is the Node's: wait for the Node and its podCIDR (flanneld gives up after 30 s
  // and exits; the controller-manager may simply not have assigned it yet).
  while (!rt_.stopped()) {
    std::optional<Node> node;
    if (!Retry("getting Node " + node_name_, [&] {
          if (auto obj = client_.Find(NodePath())) node = ParseNode(*obj);
        }))
      break;
    if (!node) {
      rt_.SetNotReady("waiting for Node " + node_name_ + " to exist");
      rt_.SleepFor(std::chrono::seconds(1));
      continue;
    }
    OwnCidrs own;
    try {
      own = OwnSubnets(*node, stack(), cfg_.network, cfg_.ipv6_network);
    } catch (const cni::Error& e) {
      if (!Retryable(e)) throw;
      rt_.SetNotReady(e.msg());
      rt_.SleepFor(std::chrono::seconds(1));
      continue;
    }
    Publish(*node, attrs);
    {
      std::lock_guard<std::mutex> lock(own_mu_);
      own_attrs_ = attrs;
    }
    Lease l;
    l.subnet = own.subnet;
    l.subnet6 = own.subnet6;
    l.attrs = attrs;
    l.source = "node/" + node_name_;
    return l;  // never expires: RenewLease only republishes changed attributes
  }
  return {};
}

Lease KubeSubnetManager::RenewLease(const Lease& own) {
  auto obj = client_.Find(NodePath());
  if (!obj) throw cni::Error(cni::kTryAgainLater, "Node " + node_name_ + " not found");
  auto patch = AnnotationPatch(ParseNode(*obj), ann_, own.attrs);
  if (patch) {
    client_.Patch(NodePath() + "/status", *patch, kStrategicMerge);
    Log('I', "annotated Node " + node_name_ + ": " + *patch);
  }
  std::lock_guard<std::mutex> lock(own_mu_);
  own_attrs_ = own.attrs;
  return own;
}

std::optional<Lease> KubeSubnetManager::LeaseOf(const Node& n) {
  if (!IsManaged(n, ann_)) return std::nullopt;
  try {
    Lease l = NodeToLease(n, ann_, stack());
    if (n.name == node_name_) {
      std::lock_guard<std::mutex> lock(own_mu_);
      if (own_attrs_) l.attrs = *own_attrs_;
    }
    return l;
  } catch (const cni::Error& e) {
    Log('W', "Error turning node " + cni::GoQuote(n.name) + " to lease: " + e.msg() + " (peer skipped)");
    return std::nullopt;
  }
}

std::vector<Lease> KubeSubnetManager::List(std::string* resource_version) {
  json list = client_.Get("/api/v1/nodes");
  *resource_version = list.value("metadata", json::object()).value("resourceVersion", "");
  known_.clear();
  std::vector<Lease> leases;
  if (list.contains("items") && list["items"].is_array())
    for (const auto& item : list["items"]) {
      Node n;
      try {
        n = ParseNode(item);
      } catch (const cni::Error& e) {
        Log('W', "malformed Node skipped: " + e.msg());
        continue;
      }
      Known k{n, LeaseOf(n)};
      if (k.lease) leases.push_back(*k.lease);
      known_[n.name] = std::move(k);
    }
  return leases;
}

void KubeSubnetManager::OnEvent(const std::string& type, const json& obj, std::string& rv,
                                const std::function<void(LeaseEvent)>& sink) {
  if (obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object() &&
      obj["metadata"].value("resourceVersion", "") != "")
    rv = obj["metadata"]["resourceVersion"].get<std::string>();
  if (type == "BOOKMARK") return;
  Node n;
  try {
    n = ParseNode(obj);
  } catch (const cni::Error& e) {
    Log('W', "malformed Node in a " + type + " event skipped: " + e.msg());
    return;
  }
  auto it = known_.find(n.name);
  if (type == "DELETED") {
    if (it != known_.end()) {
      if (it->second.lease) sink({LeaseEvent::kRemoved, {*it->second.lease}});
      known_.erase(it);
    }
    return;
  }
  if (type != "ADDED" && type != "MODIFIED") return;
  std::optional<Lease> old = it == known_.end() ? std::nullopt : it->second.lease;
  // An update re-programs a peer only when what the backend uses changed (flanneld's rule);
  // other Node changes (kubelet heartbeats, labels) are just remembered.
  bool relevant = it == known_.end() || IsManaged(it->second.node, ann_) != IsManaged(n, ann_) ||
                  LeaseChanged(it->second.node, n, ann_, stack()) ||
                  it->second.node.pod_cidr != n.pod_cidr || it->second.node.pod_cidrs != n.pod_cidrs;
  if (!relevant) {
    it->second.node = std::move(n);
    return;
  }
  std::optional<Lease> now = LeaseOf(n);
  known_[n.name] = Known{n, now};
  if (old && (!now || now->Key() != old->Key())) sink({LeaseEvent::kRemoved, {*old}});
  if (now) sink({LeaseEvent::kAdded, {*now}});
}

void KubeSubnetManager::SetNetworkAvailable() {
  if (condition_set_ || !opts_.set_node_network_unavailable) return;
  try {
    Retry("setting the NetworkUnavailable condition", [&] {
      client_.Patch(NodePath() + "/status", NetworkAvailablePatch(std::time(nullptr)), kStrategicMerge);
    });
    condition_set_ = true;
    Log('I', "Node " + node_name_ + ": condition NetworkUnavailable=False (FlannelIsUp)");
  } catch (const cni::Error& e) {
    Log('E', "CompleteLease execute error err: " + e.msg());
    condition_set_ = true;  // flanneld tries once too
  }
}

void KubeSubnetManager::WatchLeases(const std::function<void(LeaseEvent)>& sink) {
  // The first snapshot is a fresh list, not the start-up sync's: that one predates the own
  // Node's annotations, and the loop expects the own lease in every snapshot.
  std::string rv;
  bool need_list = true;
  auto backoff = std::chrono::milliseconds(100);
  while (!rt_.stopped()) {
    try {
      if (need_list) {
        std::vector<Lease> leases = List(&rv);
        sink({LeaseEvent::kSnapshot, std::move(leases)});
        need_list = false;
        SetNetworkAvailable();
      }
      auto end = client_.Watch("/api/v1/nodes", rv, opts_.watch_timeout_s,
                               [&](const std::string& type, const json& obj) { OnEvent(type, obj, rv, sink); },
                               rt_.stop_flag());
      backoff = std::chrono::milliseconds(100);
      if (end == Client::WatchEnd::kGone) {
        Log('I', "watch of Nodes: resourceVersion " + rv + " is gone (410), listing again");
        rt_.metrics().WatchRestart("kube", "expired");
        need_list = true;
      } else if (end == Client::WatchEnd::kEnded) {
        rt_.metrics().WatchRestart("kube", "ended");
      }
    } catch (const cni::Error& e) {
      rt_.metrics().StoreRequestError("kube");
      if (!rt_.stopped()) rt_.metrics().WatchRestart("kube", Retryable(e) ? "disconnected" : "error");
      Log('W', "watch of Nodes: " + e.msg() + "; again in " + std::to_string(backoff.count()) + " ms");
      if (!rt_.SleepFor(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(e.code() == cni::kInvalidEnvironment ? 30000 : 5000));
    }
  }
}

}  // namespace weft::agent::kube
