// ECS services: a desired number of copies of a task definition, kept
// running by the scheduler. Enough of ECS's service model for ECS Exec:
// `enableExecuteCommand` on CreateService/UpdateService applies to the tasks
// started after it (E7), and both are authorized with ecs:enable-execute-command.
#include <algorithm>

#include "api/control_plane.h"
#include "common/arn.h"
#include "common/ids.h"
#include "common/log.h"

namespace porthole::api {

namespace {

std::string ServiceKey(const std::string& cluster, const std::string& name) { return cluster + "/" + name; }

Status ValidServiceName(const std::string& name) {
  if (name.empty() || name.size() > 255)
    return MakeError("InvalidParameterException", "serviceName must be 1 to 255 characters.");
  for (char c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return MakeError("InvalidParameterException", "serviceName may contain only letters, digits, '-' and '_'.");
  return OkStatus();
}

}  // namespace

std::string ControlPlane::ServiceArn(const std::string& cluster, const std::string& name) const {
  return "arn:aws:ecs:" + config_.region + ":" + config_.account_id + ":service/" + cluster + "/" + name;
}

Result<Json> ControlPlane::CreateService(const Json& in, const Caller& caller, const std::string& cluster_name,
                                         const std::string& service_name, const Json& resolved_definition) {
  auto cluster = LoadActiveCluster(cluster_name);
  if (!cluster) return cluster.error();
  const std::string* name = &service_name;
  if (Status s = ValidServiceName(*name); !s) return s.error();
  const Json* definition = &resolved_definition;
  auto desired = OptionalInt(in, "desiredCount");
  if (!desired) return desired.error();
  int64_t desired_count = desired->value_or(1);
  if (desired_count < 0 || desired_count > 100)
    return MakeError("InvalidParameterException", "desiredCount must be between 0 and 100.");
  auto exec = OptionalBool(in, "enableExecuteCommand");
  if (!exec) return exec.error();
  auto launch_type = OptionalString(in, "launchType");
  if (!launch_type) return launch_type.error();
  auto tags = ParseTags(in, "tags");
  if (!tags) return tags.error();
  std::string arn = ServiceArn(cluster_name, *name);
  double now = EpochSeconds();
  std::string deployment = "ecs-svc/" + ids::RandomHex(10);
  Json service = {{"serviceArn", arn},
                  {"serviceName", *name},
                  {"clusterArn", (*cluster)["clusterArn"]},
                  {"taskDefinition", (*definition)["taskDefinitionArn"]},
                  {"desiredCount", desired_count},
                  {"runningCount", 0},
                  {"pendingCount", 0},
                  {"status", "ACTIVE"},
                  {"launchType", launch_type->value_or("EC2")},
                  {"enableExecuteCommand", exec->value_or(false)},
                  {"schedulingStrategy", "REPLICA"},
                  {"createdAt", now},
                  {"createdBy", caller.principal_arn},
                  {"tags", *tags},
                  {"deployments", Json::array({{{"id", deployment}, {"status", "PRIMARY"},
                                                {"taskDefinition", (*definition)["taskDefinitionArn"]},
                                                {"desiredCount", desired_count}, {"createdAt", now}}})},
                  {"events", Json::array()}};
  auto inserted = store_.Insert(store::kind::kService, {ServiceKey(cluster_name, *name), cluster_name, service});
  if (!inserted) return inserted.error();
  if (!*inserted) {
    auto existing = store_.Get(store::kind::kService, ServiceKey(cluster_name, *name));
    if (existing && *existing && (*existing)->body.value("status", "") == "ACTIVE")
      return MakeError("InvalidParameterException", "Creation of service was not idempotent.");
    if (Status s = store_.Put(store::kind::kService, {ServiceKey(cluster_name, *name), cluster_name, service}); !s)
      return s.error();
  }
  log::Info("service " + *name + " created in " + cluster_name + " with " + std::to_string(desired_count) + " tasks");
  ReconcileServices();
  return Json{{"service", service}};
}

Result<Json> ControlPlane::UpdateService(const Json& in, const std::string& cluster_name,
                                         const std::string& service_name, const std::string& definition_arn) {
  auto cluster = LoadActiveCluster(cluster_name);
  if (!cluster) return cluster.error();
  auto record = store_.Get(store::kind::kService, ServiceKey(cluster_name, service_name));
  if (!record) return record.error();
  if (!*record || (*record)->body.value("status", "") != "ACTIVE")
    return MakeError("ServiceNotFoundException", "Service not found.");
  Json service = (*record)->body;
  auto desired = OptionalInt(in, "desiredCount");
  if (!desired) return desired.error();
  auto exec = OptionalBool(in, "enableExecuteCommand");
  if (!exec) return exec.error();
  auto force = OptionalBool(in, "forceNewDeployment");
  if (!force) return force.error();
  bool new_exec = exec->value_or(service.value("enableExecuteCommand", false));
  if (*desired) {
    if (**desired < 0 || **desired > 100)
      return MakeError("InvalidParameterException", "desiredCount must be between 0 and 100.");
    service["desiredCount"] = **desired;
  }
  // A new task definition or exec setting applies to new tasks: a new
  // deployment replaces the old one's tasks (E7).
  bool new_deployment = force->value_or(false) || definition_arn != service["taskDefinition"] ||
                        new_exec != service.value("enableExecuteCommand", false);
  service["taskDefinition"] = definition_arn;
  service["enableExecuteCommand"] = new_exec;
  if (new_deployment) {
    for (auto& d : service["deployments"]) d["status"] = "ACTIVE";
    Json deployment = {{"id", "ecs-svc/" + ids::RandomHex(10)}, {"status", "PRIMARY"},
                       {"taskDefinition", definition_arn}, {"desiredCount", service["desiredCount"]},
                       {"createdAt", EpochSeconds()}};
    service["deployments"].insert(service["deployments"].begin(), deployment);
  }
  service["deployments"][0]["desiredCount"] = service["desiredCount"];
  if (Status s = store_.Put(store::kind::kService, {ServiceKey(cluster_name, service_name), cluster_name, service}); !s)
    return s.error();
  ReconcileServices();
  return Json{{"service", service}};
}

Result<Json> ControlPlane::DescribeServices(const std::string& cluster_name,
                                            const std::vector<std::string>& service_names) {
  auto cluster = LoadActiveCluster(cluster_name);
  if (!cluster) return cluster.error();
  Json services = Json::array(), failures = Json::array();
  for (const auto& name : service_names) {
    auto record = store_.Get(store::kind::kService, ServiceKey(cluster_name, name));
    if (!record) return record.error();
    if (!*record) failures.push_back({{"arn", ServiceArn(cluster_name, name)}, {"reason", "MISSING"}});
    else services.push_back((*record)->body);
  }
  return Json{{"services", services}, {"failures", failures}};
}

Result<Json> ControlPlane::ListServices(const std::string& cluster_name) {
  auto cluster = LoadActiveCluster(cluster_name);
  if (!cluster) return cluster.error();
  auto all = store_.List(store::kind::kService, (*cluster)["clusterName"].get<std::string>());
  if (!all) return all.error();
  Json arns = Json::array();
  for (const auto& r : *all)
    if (r.body.value("status", "") == "ACTIVE") arns.push_back(r.body["serviceArn"]);
  return Json{{"serviceArns", arns}};
}

Result<Json> ControlPlane::DeleteService(const Json& in, const std::string& cluster_name,
                                         const std::string& service_name) {
  auto cluster = LoadActiveCluster(cluster_name);
  if (!cluster) return cluster.error();
  auto force = OptionalBool(in, "force");
  if (!force) return force.error();
  auto record = store_.Get(store::kind::kService, ServiceKey(cluster_name, service_name));
  if (!record) return record.error();
  if (!*record || (*record)->body.value("status", "") != "ACTIVE")
    return MakeError("ServiceNotFoundException", "Service not found.");
  Json service = (*record)->body;
  if (service.value("desiredCount", 0) > 0 && !force->value_or(false))
    return MakeError("InvalidParameterException",
                     "The service cannot be stopped while it is scaled above 0.");
  service["status"] = "INACTIVE";
  service["desiredCount"] = 0;
  if (Status s = store_.Put(store::kind::kService, {ServiceKey(cluster_name, service_name), cluster_name, service}); !s)
    return s.error();
  ReconcileServices();
  return Json{{"service", service}};
}

void ControlPlane::ReconcileServices() {
  auto services = store_.List(store::kind::kService, std::nullopt);
  if (!services) {
    log::Error("the service scheduler cannot list services: " + services.error().message);
    return;
  }
  for (const auto& r : *services) {
    Json service = r.body;
    std::string group = "service:" + service.value("serviceName", "");
    bool active = service.value("status", "") == "ACTIVE";
    std::string primary = active && !service["deployments"].empty() ? service["deployments"][0].value("id", "") : "";
    int64_t desired = active ? service.value("desiredCount", 0) : 0;
    auto tasks = tasks_.InCluster(r.parent);
    if (!tasks) {
      log::Error("the service scheduler cannot list the tasks of " + r.parent + ": " + tasks.error().message);
      continue;
    }
    std::vector<model::Task*> current, old;
    for (auto& t : *tasks) {
      if (t.group != group || t.desired_status != model::TaskStatus::kRunning) continue;
      (t.deployment_id == primary ? current : old).push_back(&t);
    }
    int64_t running = 0;
    for (const auto* t : current) running += t->last_status == model::TaskStatus::kRunning;
    // Stop extra copies, and the previous deployment's once the new one is up.
    std::vector<model::Task*> doomed;
    for (size_t i = static_cast<size_t>(std::max<int64_t>(desired, 0)); i < current.size(); i++)
      doomed.push_back(current[i]);
    if (running >= desired) doomed.insert(doomed.end(), old.begin(), old.end());
    for (auto* t : doomed) {
      RequestTaskStop(*t, "Scaling activity initiated by (deployment " + primary + ")", "ServiceSchedulerInitiated");
      if (Status s = tasks_.Put(*t); !s) {
        log::Error("the service scheduler cannot stop task " + t->id + ": " + s.error().message);
        continue;
      }
      WakeInstance(t->instance_id);
      if (broker_) broker_->EndTaskSessions(t->id, "The service stopped the task.");
    }
    // Start what is missing.
    int64_t missing = desired - static_cast<int64_t>(current.size());
    if (missing > 0) {
      auto cluster = LoadActiveCluster(r.parent);
      auto definition = LoadTaskDefinition(service.value("taskDefinition", ""));
      if (cluster && definition) {
        TaskLaunch launch;
        launch.cluster = *cluster;
        launch.definition = *definition;
        launch.count = std::min<int64_t>(missing, 10);
        launch.exec = service.value("enableExecuteCommand", false);
        launch.launch_type = service.value("launchType", "EC2");
        launch.started_by = primary;
        launch.group = group;
        launch.principal = service.value("createdBy", "");
        launch.deployment_id = primary;
        (void)CreateTasks(launch);  // no live node: tried again on the next pass
      }
    }
    service["runningCount"] = running;
    service["pendingCount"] = static_cast<int64_t>(current.size()) - running;
    if (service != r.body)
      if (Status s = store_.Put(store::kind::kService, {r.key, r.parent, service}); !s)
        log::Error("the service scheduler cannot record " + r.key + ": " + s.error().message);
  }
}

}  // namespace porthole::api
