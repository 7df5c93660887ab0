#pragma once
// Amazon Resource Names, and the ECS forms Porthole issues and accepts.
//
// An ARN is "arn:<partition>:<service>:<region>:<account>:<resource>"; the
// resource may itself contain ':' and '/'. The ECS resources we issue are
//   cluster/<cluster>
//   task/<cluster>/<task-id>
//   task-definition/<family>:<revision>
//   container/<cluster>/<task-id>/<uuid>
//   container-instance/<cluster>/<id>
// (the "new" long ARN format ECS has used since 2018).
//
// Errors carry code "InvalidParameterException" and a message that names the
// offending value, as the ECS API answers bad parameters.
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace porthole {

struct Arn {
  std::string partition = "aws";
  std::string service;
  std::string region;   // may be empty (e.g. IAM, S3)
  std::string account;  // may be empty (e.g. S3)
  std::string resource;
};

// Longest ARN accepted (IAM's limit for ARNs in policies).
inline constexpr size_t kMaxArnLength = 2048;

// Parses "arn:partition:service:region:account:resource": exactly six
// colon-separated fields where the sixth (resource) keeps any further ':'.
// Partition, service and resource must be non-empty; region and account may
// be empty. Longer than kMaxArnLength is rejected.
Result<Arn> ParseArn(std::string_view text);
std::string FormatArn(const Arn& arn);

// ECS ARNs in partition "aws". Arguments are not validated: callers pass
// names that already passed the Validate* functions below.
std::string ClusterArn(std::string_view region, std::string_view account, std::string_view cluster_name);
std::string TaskArn(std::string_view region, std::string_view account, std::string_view cluster_name,
                    std::string_view task_id);
std::string TaskDefinitionArn(std::string_view region, std::string_view account, std::string_view family, int revision);
std::string ContainerArn(std::string_view region, std::string_view account, std::string_view cluster_name,
                         std::string_view task_id, std::string_view container_uuid);
std::string ContainerInstanceArn(std::string_view region, std::string_view account, std::string_view cluster_name,
                                 std::string_view container_instance_id);

// The cluster name from the ECS API's "cluster" parameter, which is a short
// name or a cluster ARN: the last path segment of an ECS cluster ARN, the
// input itself otherwise, and "default" when empty (ECS's default cluster).
// Anything that is not a cluster ARN is returned unchanged, so an ARN of
// another kind fails ValidateClusterName and the error names it.
std::string ClusterNameFrom(std::string_view name_or_arn);

// The task id from the ECS API's "task" parameter, which is an id or a task
// ARN (either task/<cluster>/<id> or the old task/<id>): the last path
// segment of an ECS task ARN, the input itself otherwise.
std::string TaskIdFrom(std::string_view id_or_arn);

// The ECS API's "taskDefinition" parameter: "family", "family:revision" or a
// task-definition ARN. No revision means "the latest ACTIVE revision".
struct TaskDefinitionRef {
  std::string family;
  std::optional<int> revision;  // >= 1 when present
};
Result<TaskDefinitionRef> ParseTaskDefinitionRef(std::string_view family_or_family_rev_or_arn);

// 1–255 characters of [A-Za-z0-9_-], as ECS requires of each.
Status ValidateClusterName(std::string_view name);
Status ValidateFamilyName(std::string_view family);
Status ValidateContainerName(std::string_view name);

}  // namespace porthole
