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

Result<model::Cluster> ControlPlane::LoadActiveCluster(const std::string& name_or_arn) {
  auto cluster = clusters_.Get(ClusterNameFrom(name_or_arn));
  if (!cluster) return cluster.error();
  if (!*cluster || !(*cluster)->Active()) return MakeError("ClusterNotFoundException", "Cluster not found.");
  return **cluster;
}

Result<std::optional<model::Task>> ControlPlane::LoadTask(const std::string& cluster_name,
                                                          const std::string& task_id_or_arn) {
  std::string id = TaskIdFrom(task_id_or_arn);
  if (id.empty() || id.size() > 64) return std::optional<model::Task>();
  return tasks_.GetInCluster(cluster_name, id);
}

Result<model::TaskDefinition> ControlPlane::LoadTaskDefinition(const std::string& reference) {
  PORTHOLE_TRY_ASSIGN(ref, ParseTaskDefinitionRef(reference));
  auto missing = MakeError("ClientException", "Unable to describe task definition.");
  if (ref.revision) {
    PORTHOLE_TRY_ASSIGN(definition, definitions_.Get(ref.family + ":" + std::to_string(*ref.revision)));
    if (!definition) return missing;
    return *definition;
  }
  PORTHOLE_TRY_ASSIGN(all, definitions_.List(ref.family));
  const model::TaskDefinition* latest = nullptr;
  for (const auto& d : all)
    if (d.Active() && (!latest || d.revision > latest->revision)) latest = &d;
  if (!latest) return missing;
  return *latest;
}

Json ControlPlane::ClusterView(const model::Cluster& cluster) {
  Json view = model::ToStored(cluster);
  int running = 0, pending = 0;
  if (auto tasks = tasks_.InCluster(cluster.name); tasks.ok()) {
    for (const auto& t : *tasks) {
      if (t.last_status == model::TaskStatus::kRunning) running++;
      else if (!t.Stopped()) pending++;
    }
  }
  int instances = 0;
  if (auto nodes = instances_.List(); nodes.ok()) instances = static_cast<int>(nodes->size());
  int services = 0;
  if (auto all = services_.List(cluster.name); all.ok())
    for (const auto& s : *all) services += s.Active() ? 1 : 0;
  view["runningTasksCount"] = running;
  view["pendingTasksCount"] = pending;
  view["activeServicesCount"] = services;
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
