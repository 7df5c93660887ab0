// The ECS operation table: each operation once, with its IAM action, the
// resources it is authorized on (resolved from the server's records: the
// task that will be stopped, the revision that will be described) and the
// condition keys ECS supplies, beside the handler that acts on exactly those.
//
// Where ECS supplies it, an operation that writes tags also needs
// ecs:TagResource with ecs:CreateAction, and carries aws:RequestTag/* and
// aws:TagKeys; one that passes a role needs iam:PassRole on it
// (iam:PassedToService = ecs-tasks.amazonaws.com).
#include "api/control_plane.h"
#include "common/arn.h"

namespace porthole::api {

namespace {

using Checks = std::vector<AccessCheck>;

struct NoTarget {};

// The cluster an operation acts on: its "cluster" member (name or ARN; "default" when absent).
Result<std::string> ClusterMember(const Json& in, const char* member = "cluster") {
  auto given = OptionalString(in, member);
  if (!given) return given.error();
  return ClusterNameFrom(given->value_or("default"));
}

}  // namespace

AccessCheck ControlPlane::PassRoleCheck(const std::string& role_arn) {
  // On the ARN as passed, as IAM checks it: a role ARN names its path, and a
  // role that does not exist is still authorized (the task then fails to get
  // credentials, with the reason in describe-tasks).
  return {"iam:PassRole", role_arn, {{"iam:PassedToService", {"ecs-tasks.amazonaws.com"}}}};
}

namespace {
// A family's revisions (`revision` "*"), or one revision, as an authorization
// resource for references that resolve to no stored revision.
std::string FamilyArn(const std::string& region, const std::string& account, const std::string& family,
                      const std::string& revision) {
  return "arn:aws:ecs:" + region + ":" + account + ":task-definition/" + family + ":" + revision;
}
}  // namespace

void ControlPlane::DeclareEcsOperations() {
  const std::string ecs = "ecs";
  // What a task-definition reference resolves to: the revision it names, or
  // the family's latest ACTIVE one. A reference that resolves to nothing is
  // authorized on what it names (a caller without access learns nothing);
  // the handler then answers the ECS error.
  struct DefinitionTarget {
    Result<model::TaskDefinition> definition = MakeError("ClientException", "Unable to describe task definition.");
  };
  auto resolve_definition = [this](const std::string& reference, DefinitionTarget& target) -> Result<AccessCheck> {
    auto ref = ParseTaskDefinitionRef(reference);
    if (!ref) return ref.error();
    target.definition = LoadTaskDefinition(reference);
    if (target.definition) return AccessCheck{"", target.definition->arn, ResourceTagKeys(target.definition->tags)};
    return AccessCheck{"", FamilyArn(config_.region, config_.account_id, ref->family,
                                     ref->revision ? std::to_string(*ref->revision) : "*"),
                       {}};
  };
  // A write that carries tags: the keys on the operation itself, and
  // ecs:TagResource on the same resource with ecs:CreateAction.
  auto with_tags = [](Checks& checks, const std::string& operation, const std::string& resource, const Json& tags) {
    if (!tags.is_array() || tags.empty()) return;
    ConditionKeys keys = RequestTagKeys(tags);
    MergeKeys(checks.front().keys, keys);
    keys["ecs:CreateAction"] = {operation};
    checks.push_back({"ecs:TagResource", resource, keys});
  };

  // ---------------------------------------------------------------- clusters
  Add(ecs, Declare<std::string>(
               "CreateCluster", "ecs:CreateCluster", kOperators,
               [this, with_tags](const Call& call) -> Result<Resolved<std::string>> {
                 auto name = ClusterMember(call.input, "clusterName");
                 if (!name) return name.error();
                 if (Status s = ValidateClusterName(*name); !s) return s.error();
                 auto tags = ParseTags(call.input, "tags");
                 if (!tags) return tags.error();
                 Checks checks{{"", ClusterArn(*name), {}}};
                 with_tags(checks, "CreateCluster", ClusterArn(*name), *tags);
                 return Resolved<std::string>{checks, *name};
               },
               [this](const Call& call, std::string& name) { return CreateCluster(call.input, name); }));

  Add(ecs, Declare<std::vector<std::string>>(
               "DescribeClusters", "ecs:DescribeClusters", kOperators,
               [this](const Call& call) -> Result<Resolved<std::vector<std::string>>> {
                 auto names = StringList(call.input, "clusters");
                 if (!names) return names.error();
                 if (names->empty()) names->push_back("default");
                 if (names->size() > 100)
                   return MakeError("InvalidParameterException", "At most 100 clusters can be described at once.");
                 Checks checks;
                 for (const auto& n : *names) checks.push_back({"", ClusterArn(ClusterNameFrom(n)), {}});
                 return Resolved<std::vector<std::string>>{checks, *names};
               },
               [this](const Call& call, std::vector<std::string>& names) { return DescribeClusters(call.input, names); }));

  Add(ecs, Declare<NoTarget>(
               "ListClusters", "ecs:ListClusters", kOperators,
               [](const Call&) -> Result<Resolved<NoTarget>> { return Resolved<NoTarget>{{{"", "*", {}}}, {}}; },
               [this](const Call& call, NoTarget&) { return ListClusters(call.input); }));

  Add(ecs, Declare<std::string>(
               "DeleteCluster", "ecs:DeleteCluster", kOperators,
               [this](const Call& call) -> Result<Resolved<std::string>> {
                 auto given = RequiredString(call.input, "cluster");
                 if (!given) return given.error();
                 std::string name = ClusterNameFrom(*given);
                 ConditionKeys keys;
                 auto cluster = clusters_.Get(name);
                 if (!cluster) return cluster.error();
                 if (*cluster) keys = ResourceTagKeys((*cluster)->tags);
                 return Resolved<std::string>{{{"", ClusterArn(name), keys}}, name};
               },
               [this](const Call&, std::string& name) { return DeleteCluster(name); }));

  // ---------------------------------------------------------------- task definitions
  Add(ecs, Declare<NoTarget>(
               "RegisterTaskDefinition", "ecs:RegisterTaskDefinition", kOperators,
               [this, with_tags](const Call& call) -> Result<Resolved<NoTarget>> {
                 auto family = RequiredString(call.input, "family");
                 if (!family) return family.error();
                 auto tags = ParseTags(call.input, "tags");
                 if (!tags) return tags.error();
                 // ECS authorizes registration on "*" (no resource-level permissions).
                 Checks checks{{"", "*", {}}};
                 with_tags(checks, "RegisterTaskDefinition", FamilyArn(config_.region, config_.account_id, *family, "*"),
                           *tags);
                 // (The handler answers ECS's error for a role member of the wrong type.)
                 for (const char* role : {"taskRoleArn", "executionRoleArn"})
                   if (call.input.contains(role) && call.input[role].is_string() &&
                       !call.input[role].get<std::string>().empty())
                     checks.push_back(PassRoleCheck(call.input[role].get<std::string>()));
                 return Resolved<NoTarget>{checks, {}};
               },
               [this](const Call& call, NoTarget&) { return RegisterTaskDefinition(call.input); }));

  Add(ecs, Declare<DefinitionTarget>(
               "DescribeTaskDefinition", "ecs:DescribeTaskDefinition", kOperators,
               [resolve_definition](const Call& call) -> Result<Resolved<DefinitionTarget>> {
                 auto reference = RequiredString(call.input, "taskDefinition");
                 if (!reference) return reference.error();
                 DefinitionTarget target;
                 auto check = resolve_definition(*reference, target);
                 if (!check) return check.error();
                 return Resolved<DefinitionTarget>{{*check}, std::move(target)};
               },
               [this](const Call& call, DefinitionTarget& target) -> Result<Json> {
                 if (!target.definition) return target.definition.error();
                 return DescribeTaskDefinition(call.input, *target.definition);
               }));

  Add(ecs, Declare<NoTarget>(
               "ListTaskDefinitions", "ecs:ListTaskDefinitions", kOperators,
               [](const Call&) -> Result<Resolved<NoTarget>> { return Resolved<NoTarget>{{{"", "*", {}}}, {}}; },
               [this](const Call& call, NoTarget&) { return ListTaskDefinitions(call.input); }));

  Add(ecs, Declare<DefinitionTarget>(
               "DeregisterTaskDefinition", "ecs:DeregisterTaskDefinition", kOperators,
               [resolve_definition](const Call& call) -> Result<Resolved<DefinitionTarget>> {
                 auto reference = RequiredString(call.input, "taskDefinition");
                 if (!reference) return reference.error();
                 auto ref = ParseTaskDefinitionRef(*reference);
                 if (!ref) return ref.error();
                 if (!ref->revision)
                   return MakeError("ClientException",
                                    "The specified revision is not valid: a revision number is required.");
                 DefinitionTarget target;
                 auto check = resolve_definition(*reference, target);
                 if (!check) return check.error();
                 if (!target.definition)
                   target.definition = MakeError("ClientException", "The specified task definition does not exist.");
                 return Resolved<DefinitionTarget>{{*check}, std::move(target)};
               },
               [this](const Call&, DefinitionTarget& target) -> Result<Json> {
                 if (!target.definition) return target.definition.error();
                 return DeregisterTaskDefinition(*target.definition);
               }));

  // ---------------------------------------------------------------- tasks
  struct LaunchTarget {
    std::string cluster_name;
    DefinitionTarget definition;
  };
  auto resolve_launch = [this, resolve_definition, with_tags](const Call& call, const std::string& operation)
      -> Result<Resolved<LaunchTarget>> {
    LaunchTarget target;
    auto cluster = ClusterMember(call.input);
    if (!cluster) return cluster.error();
    target.cluster_name = *cluster;
    auto reference = RequiredString(call.input, "taskDefinition");
    if (!reference) return reference.error();
    auto exec = OptionalBool(call.input, "enableExecuteCommand");
    if (!exec) return exec.error();
    auto tags = ParseTags(call.input, "tags");
    if (!tags) return tags.error();
    if (Status s = ExpectType(call.input, "overrides", Json::value_t::object); !s) return s.error();
    auto check = resolve_definition(*reference, target.definition);
    if (!check) return check.error();
    check->keys["ecs:cluster"] = {ClusterArn(target.cluster_name)};
    check->keys["ecs:enable-execute-command"] = {exec->value_or(false) ? "true" : "false"};
    Checks checks{*check};
    with_tags(checks, operation, TaskArn(target.cluster_name, "*"), *tags);
    // Roles the overrides pass to the task.
    if (call.input.contains("overrides")) {
      for (const char* role : {"taskRoleArn", "executionRoleArn"}) {
        auto arn = OptionalString(call.input["overrides"], role);
        if (!arn) return arn.error();
        if (*arn && !(*arn)->empty()) checks.push_back(PassRoleCheck(**arn));
      }
    }
    return Resolved<LaunchTarget>{checks, std::move(target)};
  };
  for (bool start : {false, true}) {
    std::string name = start ? "StartTask" : "RunTask";
    Add(ecs, Declare<LaunchTarget>(
                 name, "ecs:" + name, kOperators,
                 [resolve_launch, name](const Call& call) { return resolve_launch(call, name); },
                 [this, start](const Call& call, LaunchTarget& target) -> Result<Json> {
                   if (!target.definition.definition) return target.definition.definition.error();
                   return RunTask(call.input, call.caller, target.cluster_name, *target.definition.definition, start);
                 }));
  }

  struct TasksTarget {
    std::string cluster_name;
    std::vector<std::string> tasks;  // as given (ids or ARNs)
  };
  // Each task is authorized on its own ARN in the request's cluster, with
  // ecs:cluster, ecs:task and the cluster's and task's tags as for
  // ExecuteCommand, so statements conditioned on them (E27) decide as written.
  auto task_check = [this](const std::string& cluster_name, const std::string& task) -> Result<AccessCheck> {
    auto record = LoadTask(cluster_name, task);
    if (!record) return record.error();
    auto cluster = clusters_.Get(cluster_name);
    if (!cluster) return cluster.error();
    if (*record && *cluster) return AccessCheck{"", (*record)->arn, EcsResourceKeys(**cluster, **record, "")};
    std::string arn = TaskArn(cluster_name, TaskIdFrom(task));
    return AccessCheck{"", arn, {{"ecs:cluster", {ClusterArn(cluster_name)}}, {"ecs:task", {arn}}}};
  };
  Add(ecs, Declare<TasksTarget>(
               "DescribeTasks", "ecs:DescribeTasks", kOperators,
               [task_check](const Call& call) -> Result<Resolved<TasksTarget>> {
                 TasksTarget target;
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 target.cluster_name = *cluster;
                 auto tasks = StringList(call.input, "tasks");
                 if (!tasks) return tasks.error();
                 if (tasks->empty()) return MakeError("InvalidParameterException", "Tasks cannot be empty.");
                 if (tasks->size() > 100)
                   return MakeError("InvalidParameterException", "At most 100 tasks can be described at once.");
                 target.tasks = *tasks;
                 Checks checks;
                 for (const auto& t : target.tasks) {
                   auto check = task_check(target.cluster_name, t);
                   if (!check) return check.error();
                   checks.push_back(std::move(*check));
                 }
                 return Resolved<TasksTarget>{checks, target};
               },
               [this](const Call& call, TasksTarget& target) {
                 return DescribeTasks(call.input, target.cluster_name, target.tasks);
               }));

  Add(ecs, Declare<std::string>(
               "ListTasks", "ecs:ListTasks", kOperators,
               [this](const Call& call) -> Result<Resolved<std::string>> {
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 return Resolved<std::string>{{{"", ClusterArn(*cluster), {}}}, *cluster};
               },
               [this](const Call& call, std::string& cluster) { return ListTasks(call.input, cluster); }));

  struct TaskTarget {
    std::string cluster_name;
    std::string task_id;
  };
  Add(ecs, Declare<TaskTarget>(
               "StopTask", "ecs:StopTask", kOperators,
               [task_check](const Call& call) -> Result<Resolved<TaskTarget>> {
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 auto task = RequiredString(call.input, "task");
                 if (!task) return task.error();
                 auto check = task_check(*cluster, *task);
                 if (!check) return check.error();
                 return Resolved<TaskTarget>{{*check}, {*cluster, TaskIdFrom(*task)}};
               },
               [this](const Call& call, TaskTarget& target) {
                 return StopTask(call.input, target.cluster_name, target.task_id);
               }));

  Add(ecs, Declare<ExecTarget>(
               "ExecuteCommand", "ecs:ExecuteCommand", kOperators,
               [this](const Call& call) -> Result<Resolved<ExecTarget>> {
                 auto cluster = OptionalString(call.input, "cluster");
                 if (!cluster) return cluster.error();
                 auto task = RequiredString(call.input, "task");
                 if (!task) return task.error();
                 auto container = OptionalString(call.input, "container");
                 if (!container) return container.error();
                 return ResolveExec(cluster->value_or("default"), *task, *container, "ecs:ExecuteCommand");
               },
               [this](const Call& call, ExecTarget& target) {
                 return ExecuteCommand(call.input, call.caller, call.request, target);
               }));

  // ---------------------------------------------------------------- tags
  auto resolve_tag_target = [this](const Call& call, bool writes) -> Result<Resolved<TagTarget>> {
    auto arn = RequiredString(call.input, "resourceArn");
    if (!arn) return arn.error();
    auto target = ResolveTagTarget(*arn);
    if (!target) return target.error();
    ConditionKeys keys;
    if (target->record) keys = ResourceTagKeys(target->record->body.value(target->member, Json::array()));
    if (writes) {
      auto tags = ParseTags(call.input, "tags");
      if (!tags) return tags.error();
      MergeKeys(keys, RequestTagKeys(*tags));
      auto removed = StringList(call.input, "tagKeys");
      if (!removed) return removed.error();
      for (const auto& k : *removed) keys["aws:TagKeys"].push_back(k);
    }
    return Resolved<TagTarget>{{{"", target->arn, keys}}, std::move(*target)};
  };
  Add(ecs, Declare<TagTarget>(
               "TagResource", "ecs:TagResource", kOperators,
               [resolve_tag_target](const Call& call) { return resolve_tag_target(call, true); },
               [this](const Call& call, TagTarget& target) { return TagResource(call.input, target); }));
  Add(ecs, Declare<TagTarget>(
               "UntagResource", "ecs:UntagResource", kOperators,
               [resolve_tag_target](const Call& call) { return resolve_tag_target(call, true); },
               [this](const Call& call, TagTarget& target) { return UntagResource(call.input, target); }));
  Add(ecs, Declare<TagTarget>(
               "ListTagsForResource", "ecs:ListTagsForResource", kOperators,
               [resolve_tag_target](const Call& call) { return resolve_tag_target(call, false); },
               [this](const Call&, TagTarget& target) { return ListTagsForResource(target); }));

  // ---------------------------------------------------------------- services
  struct ServiceTarget {
    std::string cluster_name;
    std::string service_name;
    DefinitionTarget definition;
    std::optional<std::string> definition_arn;  // UpdateService: the revision the service will run
  };
  auto service_name_of = [](const std::string& name_or_arn) { return name_or_arn.substr(name_or_arn.rfind('/') + 1); };
  Add(ecs, Declare<ServiceTarget>(
               "CreateService", "ecs:CreateService", kOperators,
               [this, resolve_definition, with_tags](const Call& call) -> Result<Resolved<ServiceTarget>> {
                 ServiceTarget target;
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 target.cluster_name = *cluster;
                 auto name = RequiredString(call.input, "serviceName");
                 if (!name) return name.error();
                 target.service_name = *name;
                 auto reference = RequiredString(call.input, "taskDefinition");
                 if (!reference) return reference.error();
                 auto exec = OptionalBool(call.input, "enableExecuteCommand");
                 if (!exec) return exec.error();
                 auto tags = ParseTags(call.input, "tags");
                 if (!tags) return tags.error();
                 auto definition = resolve_definition(*reference, target.definition);
                 if (!definition) return definition.error();
                 std::string arn = ServiceArn(target.cluster_name, target.service_name);
                 Checks checks{{"", arn,
                                {{"ecs:cluster", {ClusterArn(target.cluster_name)}},
                                 {"ecs:task-definition", {definition->resource}},
                                 {"ecs:enable-execute-command", {exec->value_or(false) ? "true" : "false"}}}}};
                 with_tags(checks, "CreateService", arn, *tags);
                 return Resolved<ServiceTarget>{checks, std::move(target)};
               },
               [this](const Call& call, ServiceTarget& target) -> Result<Json> {
                 if (!target.definition.definition) return target.definition.definition.error();
                 return CreateService(call.input, call.caller, target.cluster_name, target.service_name,
                                      *target.definition.definition);
               }));

  Add(ecs, Declare<ServiceTarget>(
               "UpdateService", "ecs:UpdateService", kOperators,
               [this, resolve_definition, service_name_of](const Call& call) -> Result<Resolved<ServiceTarget>> {
                 ServiceTarget target;
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 target.cluster_name = *cluster;
                 auto name = RequiredString(call.input, "service");
                 if (!name) return name.error();
                 target.service_name = service_name_of(*name);
                 auto exec = OptionalBool(call.input, "enableExecuteCommand");
                 if (!exec) return exec.error();
                 auto reference = OptionalString(call.input, "taskDefinition");
                 if (!reference) return reference.error();
                 // The keys describe the service as it will be: the new task
                 // definition and exec setting, or the current ones.
                 auto stored = services_.Get(target.cluster_name + "/" + target.service_name);
                 if (!stored) return stored.error();
                 model::Service service = stored->value_or(model::Service{});
                 std::string definition_arn = service.task_definition;
                 if (*reference) {
                   auto definition = resolve_definition(**reference, target.definition);
                   if (!definition) return definition.error();
                   definition_arn = definition->resource;
                 }
                 if (!*reference || target.definition.definition) target.definition_arn = definition_arn;
                 bool new_exec = exec->value_or(service.enable_execute_command);
                 Checks checks{{"", ServiceArn(target.cluster_name, target.service_name),
                                {{"ecs:cluster", {ClusterArn(target.cluster_name)}},
                                 {"ecs:task-definition", {definition_arn}},
                                 {"ecs:enable-execute-command", {new_exec ? "true" : "false"}}}}};
                 return Resolved<ServiceTarget>{checks, std::move(target)};
               },
               [this](const Call& call, ServiceTarget& target) -> Result<Json> {
                 if (!target.definition_arn) return target.definition.definition.error();
                 return UpdateService(call.input, target.cluster_name, target.service_name, *target.definition_arn);
               }));

  struct ServicesTarget {
    std::string cluster_name;
    std::vector<std::string> names;
  };
  Add(ecs, Declare<ServicesTarget>(
               "DescribeServices", "ecs:DescribeServices", kOperators,
               [this, service_name_of](const Call& call) -> Result<Resolved<ServicesTarget>> {
                 ServicesTarget target;
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 target.cluster_name = *cluster;
                 auto names = StringList(call.input, "services");
                 if (!names) return names.error();
                 if (names->empty() || names->size() > 10)
                   return MakeError("InvalidParameterException", "services must name 1 to 10 services.");
                 Checks checks;
                 for (const auto& n : *names) {
                   target.names.push_back(service_name_of(n));
                   checks.push_back({"", ServiceArn(target.cluster_name, target.names.back()), {}});
                 }
                 return Resolved<ServicesTarget>{checks, target};
               },
               [this](const Call&, ServicesTarget& target) {
                 return DescribeServices(target.cluster_name, target.names);
               }));

  Add(ecs, Declare<std::string>(
               "ListServices", "ecs:ListServices", kOperators,
               [this](const Call& call) -> Result<Resolved<std::string>> {
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 return Resolved<std::string>{{{"", ClusterArn(*cluster), {}}}, *cluster};
               },
               [this](const Call&, std::string& cluster) { return ListServices(cluster); }));

  Add(ecs, Declare<ServicesTarget>(
               "DeleteService", "ecs:DeleteService", kOperators,
               [this, service_name_of](const Call& call) -> Result<Resolved<ServicesTarget>> {
                 ServicesTarget target;
                 auto cluster = ClusterMember(call.input);
                 if (!cluster) return cluster.error();
                 target.cluster_name = *cluster;
                 auto name = RequiredString(call.input, "service");
                 if (!name) return name.error();
                 target.names = {service_name_of(*name)};
                 return Resolved<ServicesTarget>{{{"", ServiceArn(target.cluster_name, target.names[0]), {}}}, target};
               },
               [this](const Call& call, ServicesTarget& target) {
                 return DeleteService(call.input, target.cluster_name, target.names[0]);
               }));
}

}  // namespace porthole::api
