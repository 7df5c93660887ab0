// Helpers shared by the ECS and node operations: loading records, ARNs, and
// the public view of stored documents.
#include "api/control_plane.h"
#include "common/arn.h"
#include "common/log.h"

namespace porthole::api {

std::string ControlPlane::ClusterArn(const std::string& name) const {
  return porthole::ClusterArn(config_.region, config_.account_id, name);
}

std::string ControlPlane::TaskArn(const std::string& cluster, const std::string& id) const {
  return porthole::TaskArn(config_.region, config_.account_id, cluster, id);
}

Result<Json> ControlPlane::LoadActiveCluster(const std::string& name_or_arn) {
  std::string name = ClusterNameFrom(name_or_arn);
  auto record = store_.Get(store::kind::kCluster, name);
  if (!record) return record.error();
  if (!record->has_value() || (*record)->body.value("status", "") != "ACTIVE")
    return MakeError("ClusterNotFoundException", "Cluster not found.");
  return (*record)->body;
}

Result<std::optional<model::Task>> ControlPlane::LoadTask(const std::string& cluster_name,
                                                          const std::string& task_id_or_arn) {
  std::string id = TaskIdFrom(task_id_or_arn);
  if (id.empty() || id.size() > 64) return std::optional<model::Task>();
  return tasks_.GetInCluster(cluster_name, id);
}

Result<Json> ControlPlane::LoadTaskDefinition(const std::string& reference) {
  auto ref = ParseTaskDefinitionRef(reference);
  if (!ref) return ref.error();
  if (ref->revision) {
    auto record = store_.Get(store::kind::kTaskDefinition, ref->family + ":" + std::to_string(*ref->revision));
    if (!record) return record.error();
    if (!record->has_value())
      return MakeError("ClientException", "Unable to describe task definition.");
    return (*record)->body;
  }
  auto all = store_.List(store::kind::kTaskDefinition, ref->family);
  if (!all) return all.error();
  const Json* latest = nullptr;
  for (const auto& r : *all)
    if (r.body.value("status", "") == "ACTIVE" &&
        (!latest || r.body.value("revision", 0) > latest->value("revision", 0)))
      latest = &r.body;
  if (!latest) return MakeError("ClientException", "Unable to describe task definition.");
  return *latest;
}

Json ControlPlane::PublicView(const Json& record) const {
  Json out = Json::object();
  for (auto it = record.begin(); it != record.end(); ++it)
    if (it.key().empty() || it.key()[0] != '_') out[it.key()] = it.value();
  return out;
}

Json ControlPlane::ClusterView(const Json& cluster) {
  Json view = PublicView(cluster);
  int running = 0, pending = 0;
  std::string name = cluster.value("clusterName", "");
  if (auto tasks = tasks_.InCluster(name); tasks.ok()) {
    for (const auto& t : *tasks) {
      if (t.last_status == model::TaskStatus::kRunning) running++;
      else if (!t.Stopped()) pending++;
    }
  }
  int instances = 0;
  if (auto nodes = store_.List(store::kind::kContainerInstance, std::nullopt); nodes.ok())
    instances = static_cast<int>(nodes->size());
  view["runningTasksCount"] = running;
  view["pendingTasksCount"] = pending;
  view["activeServicesCount"] = 0;
  view["registeredContainerInstancesCount"] = instances;
  return view;
}

void ControlPlane::MarkTaskStopped(model::Task& task, const std::string& reason, const std::string& stop_code) {
  task.MarkStopped(reason, stop_code, EpochSeconds());
  // A stopped task's exec agent credentials die with it (whoever stopped it).
  auto keys = store_.List(store::kind::kAccessKey, "task:" + task.id);
  if (!keys) {
    log::Error("cannot list the credentials of stopped task " + task.id + ": " + keys.error().message);
    return;
  }
  for (const auto& k : *keys)
    if (Status s = store_.Delete(store::kind::kAccessKey, k.key); !s)
      log::Error("cannot revoke credentials of stopped task " + task.id + ": " + s.error().message);
}

void ControlPlane::RequestTaskStop(model::Task& task, const std::string& reason, const std::string& stop_code) {
  task.desired_status = model::TaskStatus::kStopped;
  task.stopping_at = EpochSeconds();
  task.stopped_reason = reason;
  task.stop_code = stop_code;
  task.version++;
  if (task.last_status == model::TaskStatus::kProvisioning) MarkTaskStopped(task, reason, stop_code);
}

}  // namespace porthole::api
