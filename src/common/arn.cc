#include "common/arn.h"

#include <charconv>
#include <climits>

namespace porthole {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxEchoedLength = 100;

// `value` quoted for an error message. Values come from callers and may be
// long: at most kMaxEchoedLength bytes are echoed, cut on a UTF-8 character
// boundary so the message stays valid UTF-8 for JSON.
std::string Quote(std::string_view value) {
  if (value.size() <= kMaxEchoedLength) return "'" + std::string(value) + "'";
  size_t cut = kMaxEchoedLength;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(value.substr(0, cut)) + "...'";
}

Error InvalidParameter(std::string message) { return MakeError("InvalidParameterException", std::move(message)); }

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name)
    if (!IsNameChar(c)) return false;
  return true;
}

Status ValidateName(std::string_view what, std::string_view name) {
  if (IsValidName(name)) return OkStatus();
  return InvalidParameter("Invalid " + std::string(what) + " " + Quote(name) +
                          ": up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens "
                          "are allowed.");
}

std::string EcsArn(std::string_view region, std::string_view account, std::string resource) {
  return FormatArn(Arn{"aws", "ecs", std::string(region), std::string(account), std::move(resource)});
}

// The resource of `text` if it is an ECS ARN whose resource starts with
// `prefix` (e.g. "task/"), else nullopt.
std::optional<std::string> EcsResource(std::string_view text, std::string_view prefix) {
  Result<Arn> arn = ParseArn(text);
  if (!arn.ok() || arn->service != "ecs" || !arn->resource.starts_with(prefix)) return std::nullopt;
  return std::move(arn->resource);
}

std::string LastSegment(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

Result<Arn> ParseArn(std::string_view text) {
  if (text.size() > kMaxArnLength)
    return InvalidParameter("Invalid ARN " + Quote(text) + ": longer than " + std::to_string(kMaxArnLength) +
                            " characters.");
  std::string_view fields[6];
  std::string_view rest = text;
  for (int i = 0; i < 5; ++i) {
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos)
      return InvalidParameter("Invalid ARN " + Quote(text) +
                              ": expected arn:partition:service:region:account:resource.");
    fields[i] = rest.substr(0, colon);
    rest.remove_prefix(colon + 1);
  }
  fields[5] = rest;
  if (fields[0] != "arn") return InvalidParameter("Invalid ARN " + Quote(text) + ": must start with \"arn:\".");
  if (fields[1].empty()) return InvalidParameter("Invalid ARN " + Quote(text) + ": the partition is empty.");
  if (fields[2].empty()) return InvalidParameter("Invalid ARN " + Quote(text) + ": the service is empty.");
  if (fields[5].empty()) return InvalidParameter("Invalid ARN " + Quote(text) + ": the resource is empty.");
  return Arn{std::string(fields[1]), std::string(fields[2]), std::string(fields[3]), std::string(fields[4]),
             std::string(fields[5])};
}

std::string FormatArn(const Arn& arn) {
  return "arn:" + arn.partition + ":" + arn.service + ":" + arn.region + ":" + arn.account + ":" + arn.resource;
}

std::string ClusterArn(std::string_view region, std::string_view account, std::string_view cluster_name) {
  return EcsArn(region, account, "cluster/" + std::string(cluster_name));
}

std::string TaskArn(std::string_view region, std::string_view account, std::string_view cluster_name,
                    std::string_view task_id) {
  return EcsArn(region, account, "task/" + std::string(cluster_name) + "/" + std::string(task_id));
}

std::string TaskDefinitionArn(std::string_view region, std::string_view account, std::string_view family,
                              int revision) {
  return EcsArn(region, account, "task-definition/" + std::string(family) + ":" + std::to_string(revision));
}

std::string ContainerArn(std::string_view region, std::string_view account, std::string_view cluster_name,
                         std::string_view task_id, std::string_view container_uuid) {
  return EcsArn(
      region, account,
      "container/" + std::string(cluster_name) + "/" + std::string(task_id) + "/" + std::string(container_uuid));
}

std::string ContainerInstanceArn(std::string_view region, std::string_view account, std::string_view cluster_name,
                                 std::string_view container_instance_id) {
  return EcsArn(region, account,
                "container-instance/" + std::string(cluster_name) + "/" + std::string(container_instance_id));
}

std::string ClusterNameFrom(std::string_view name_or_arn) {
  if (name_or_arn.empty()) return "default";
  if (auto resource = EcsResource(name_or_arn, "cluster/")) return LastSegment(*resource);
  return std::string(name_or_arn);
}

std::string TaskIdFrom(std::string_view id_or_arn) {
  if (auto resource = EcsResource(id_or_arn, "task/")) return LastSegment(*resource);
  return std::string(id_or_arn);
}

Result<TaskDefinitionRef> ParseTaskDefinitionRef(std::string_view text) {
  std::string_view family_rev = text;
  std::optional<std::string> resource;
  if (text.starts_with("arn:")) {
    resource = EcsResource(text, "task-definition/");
    if (!resource) return InvalidParameter("Invalid task definition ARN " + Quote(text) + ".");
    family_rev = *resource;
    family_rev.remove_prefix(std::string_view("task-definition/").size());
  }
  TaskDefinitionRef ref;
  std::string_view family = family_rev;
  size_t colon = family_rev.find(':');
  if (colon != std::string_view::npos) {
    family = family_rev.substr(0, colon);
    std::string_view digits = family_rev.substr(colon + 1);
    int revision = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), revision);
    // from_chars accepts a leading '-'; reject it and anything but plain digits.
    if (digits.empty() || digits[0] < '0' || digits[0] > '9' || ec != std::errc() ||
        end != digits.data() + digits.size() || revision < 1)
      return InvalidParameter("Invalid revision number in task definition " + Quote(text) +
                              ": must be a positive integer.");
    ref.revision = revision;
  }
  if (!IsValidName(family))
    return InvalidParameter("Invalid task definition family " + Quote(family) +
                            (family.size() == text.size() ? "" : " in " + Quote(text)) +
                            ": up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens "
                            "are allowed.");
  ref.family = std::string(family);
  return ref;
}

Status ValidateClusterName(std::string_view name) { return ValidateName("cluster name", name); }
Status ValidateFamilyName(std::string_view family) { return ValidateName("task definition family", family); }
Status ValidateContainerName(std::string_view name) { return ValidateName("container name", name); }

}  // namespace porthole
