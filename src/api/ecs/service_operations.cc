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
                                         const std::string& service_name, const model::TaskDefinition& definition) {
  PORTHOLE_TRY_ASSIGN(cluster, LoadActiveCluster(cluster_name));
  PORTHOLE_TRY(ValidServiceName(service_name));
  PORTHOLE_TRY_ASSIGN(desired, OptionalInt(in, "desiredCount"));
  int64_t desired_count = desired.value_or(1);
  if (desired_count < 0 || desired_count > 100)
    return MakeError("InvalidParameterException", "desiredCount must be between 0 and 100.");
  PORTHOLE_TRY_ASSIGN(exec, OptionalBool(in, "enableExecuteCommand"));
  PORTHOLE_TRY_ASSIGN(launch_type, OptionalString(in, "launchType"));
  PORTHOLE_TRY_ASSIGN(tags, ParseTags(in, "tags"));
  double now = EpochSeconds();
  model::Service service;
  service.name = service_name;
  service.cluster_name = cluster_name;
  service.arn = ServiceArn(cluster_name, service_name);
  service.cluster_arn = cluster.arn;
  service.task_definition = definition.arn;
  service.desired_count = desired_count;
  service.launch_type = launch_type.value_or("EC2");
  service.enable_execute_command = exec.value_or(false);
  service.created_at = now;
  service.created_by = caller.principal_arn;
  service.tags = tags;
  service.deployments = {{"ecs-svc/" + ids::RandomHex(10), "PRIMARY", service.task_definition, desired_count, now}};
  PORTHOLE_TRY_ASSIGN(inserted, services_.Insert(service));
  if (!inserted) {
    PORTHOLE_TRY_ASSIGN(existing, services_.Get(service.Key()));
    if (existing && existing->Active())
      return MakeError("InvalidParameterException", "Creation of service was not idempotent.");
    PORTHOLE_TRY(services_.Put(service));  // an INACTIVE service of that name is replaced
  }
  log::Info("service " + service_name + " created in " + cluster_name + " with " + std::to_string(desired_count) +
            " tasks");
  ReconcileServices();
  return Json{{"service", model::ToStored(service)}};
}

Result<Json> ControlPlane::UpdateService(const Json& in, const std::string& cluster_name,
                                         const std::string& service_name, const std::string& definition_arn) {
  PORTHOLE_TRY(LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(found, services_.Get(cluster_name + "/" + service_name));
  if (!found || !found->Active()) return MakeError("ServiceNotFoundException", "Service not found.");
  model::Service service = *found;
  PORTHOLE_TRY_ASSIGN(desired, OptionalInt(in, "desiredCount"));
  PORTHOLE_TRY_ASSIGN(exec, OptionalBool(in, "enableExecuteCommand"));
  PORTHOLE_TRY_ASSIGN(force, OptionalBool(in, "forceNewDeployment"));
  bool new_exec = exec.value_or(service.enable_execute_command);
  if (desired) {
    if (*desired < 0 || *desired > 100)
      return MakeError("InvalidParameterException", "desiredCount must be between 0 and 100.");
    service.desired_count = *desired;
  }
  // A new task definition or exec setting applies to new tasks: a new
  // deployment replaces the old one's tasks (E7).
  bool new_deployment = force.value_or(false) || definition_arn != service.task_definition ||
                        new_exec != service.enable_execute_command;
  service.task_definition = definition_arn;
  service.enable_execute_command = new_exec;
  if (new_deployment) {
    for (auto& d : service.deployments) d.status = "ACTIVE";
    service.deployments.insert(service.deployments.begin(),
                               {"ecs-svc/" + ids::RandomHex(10), "PRIMARY", definition_arn, service.desired_count,
                                EpochSeconds()});
  }
  if (!service.deployments.empty()) service.deployments.front().desired_count = service.desired_count;
  PORTHOLE_TRY(services_.Put(service));
  ReconcileServices();
  return Json{{"service", model::ToStored(service)}};
}

Result<Json> ControlPlane::DescribeServices(const std::string& cluster_name,
                                            const std::vector<std::string>& service_names) {
  PORTHOLE_TRY(LoadActiveCluster(cluster_name));
  Json services = Json::array(), failures = Json::array();
  for (const auto& name : service_names) {
    PORTHOLE_TRY_ASSIGN(service, services_.Get(cluster_name + "/" + name));
    if (!service) failures.push_back({{"arn", ServiceArn(cluster_name, name)}, {"reason", "MISSING"}});
    else services.push_back(model::ToStored(*service));
  }
  return Json{{"services", services}, {"failures", failures}};
}

Result<Json> ControlPlane::ListServices(const std::string& cluster_name) {
  PORTHOLE_TRY(LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(all, services_.List(cluster_name));
  Json arns = Json::array();
  for (const auto& s : all)
    if (s.Active()) arns.push_back(s.arn);
  return Json{{"serviceArns", arns}};
}

Result<Json> ControlPlane::DeleteService(const Json& in, const std::string& cluster_name,
                                         const std::string& service_name) {
  PORTHOLE_TRY(LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(force, OptionalBool(in, "force"));
  PORTHOLE_TRY_ASSIGN(found, services_.Get(cluster_name + "/" + service_name));
  if (!found || !found->Active()) return MakeError("ServiceNotFoundException", "Service not found.");
  model::Service service = *found;
  if (service.desired_count > 0 && !force.value_or(false))
    return MakeError("InvalidParameterException", "The service cannot be stopped while it is scaled above 0.");
  service.status = model::ResourceStatus::kInactive;
  service.desired_count = 0;
  PORTHOLE_TRY(services_.Put(service));
  ReconcileServices();
  return Json{{"service", model::ToStored(service)}};
}

void ControlPlane::ReconcileServices() {
  auto services = services_.List();
  if (!services) {
    log::Error("the service scheduler cannot list services: " + services.error().message);
    return;
  }
  for (const auto& stored : *services) {
    model::Service service = stored;
    std::string group = "service:" + service.name;
    std::string primary = service.PrimaryDeployment();
    int64_t desired = service.Active() ? service.desired_count : 0;
    auto tasks = tasks_.InCluster(service.cluster_name);
    if (!tasks) {
      log::Error("the service scheduler cannot list the tasks of " + service.cluster_name + ": " +
                 tasks.error().message);
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
      auto cluster = LoadActiveCluster(service.cluster_name);
      auto definition = LoadTaskDefinition(service.task_definition);
      if (cluster && definition) {
        TaskLaunch launch;
        launch.cluster = *cluster;
        launch.definition = *definition;
        launch.count = std::min<int64_t>(missing, 10);
        launch.exec = service.enable_execute_command;
        launch.launch_type = service.launch_type;
        launch.started_by = primary;
        launch.group = group;
        launch.principal = service.created_by;
        launch.deployment_id = primary;
        auto started = CreateTasks(launch);  // no live node: tried again on the next pass
        if (!started) log::Debug("service " + service.Key() + " waits: " + started.error().message);
      }
    }
    service.running_count = running;
    service.pending_count = static_cast<int64_t>(current.size()) - running;
    if (model::ToStored(service) != model::ToStored(stored))
      if (Status s = services_.Put(service); !s)
        log::Error("the service scheduler cannot record " + service.Key() + ": " + s.error().message);
  }
}

}  // namespace porthole::api
