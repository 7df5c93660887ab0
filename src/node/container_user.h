#pragma once
// Turning the `user` of an ECS container definition into the numeric
// identity runc needs, using the image's own /etc/passwd and /etc/group
// (read through ReadFileInRoot: they are attacker-controlled files).
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace porthole::node {

struct ContainerUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;  // supplementary groups from /etc/group
  std::string home = "/";                 // from /etc/passwd, for HOME
};

// `user` is "", "uid", "uid:gid", "name", "name:group", "uid:group" or
// "name:gid" (as Docker and runc accept it):
// - "" means root (uid 0);
// - a numeric uid needs no passwd entry; when one exists, its primary gid
//   and home are used, else gid 0 and home "/";
// - a name must exist in /etc/passwd, a group name in /etc/group;
// - without an explicit group, the groups listing the user as a member
//   become supplementary gids.
// Errors: "InvalidParameterException" for a malformed `user`,
// "ContainerStartFailed" for names the image does not know.
Result<ContainerUser> ResolveContainerUser(const std::string& rootfs, const std::string& user);

}  // namespace porthole::node
