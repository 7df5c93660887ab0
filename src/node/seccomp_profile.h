#pragma once
// The seccomp filter every container gets: Docker's default profile for
// x86-64 (the same allow-list of system calls and the same argument filters),
// as the OCI config's linux.seccomp, which runc hands to libseccomp. What is
// not allowed fails with EPERM, as in Docker; clone3 fails with ENOSYS so
// that libc falls back to clone, whose namespace flags are filtered.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace porthole::node {

// The linux.seccomp section for a container whose bounding set is
// `capabilities` ("CAP_SYS_ADMIN", ...): as in Docker, some calls are allowed
// only with the capability that governs them (mount and unshare with
// CAP_SYS_ADMIN, chroot with CAP_SYS_CHROOT, ...), and clone may create
// namespaces only with CAP_SYS_ADMIN.
nlohmann::json DefaultSeccompProfile(const std::vector<std::string>& capabilities);

}  // namespace porthole::node
