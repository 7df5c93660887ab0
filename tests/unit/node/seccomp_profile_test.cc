// The containers' seccomp filter (node/seccomp_profile.h) as runc receives
// it: Docker's default profile. oci_config_test checks every config carries
// it; container_isolation_test proves the kernel enforces it.
#include "node/seccomp_profile.h"

#include "common/linux_capabilities.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>


namespace porthole::node {
namespace {

using Json = nlohmann::json;

// The rules that name `syscall`.
std::vector<Json> RulesFor(const Json& profile, const std::string& syscall) {
  std::vector<Json> out;
  for (const auto& rule : profile["syscalls"])
    for (const auto& name : rule["names"])
      if (name == syscall) out.push_back(rule);
  return out;
}

// Allowed whatever its arguments: an ALLOW rule without argument filters.
bool AllowedOutright(const Json& profile, const std::string& syscall) {
  for (const auto& rule : RulesFor(profile, syscall))
    if (rule["action"] == "SCMP_ACT_ALLOW" && !rule.contains("args")) return true;
  return false;
}

TEST(SeccompProfileTest, RefusesWhatItDoesNotListWithEperm) {
  Json p = DefaultSeccompProfile(DefaultCapabilities());
  EXPECT_EQ(p["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(p["defaultErrnoRet"], 1);
  EXPECT_EQ(p["architectures"], Json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  // Calls Docker removes: never listed for a default container.
  for (const char* refused : {"keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "userfaultfd",
                              "pivot_root", "swapon", "swapoff", "uselib", "nfsservctl", "open_by_handle_at"})
    EXPECT_TRUE(RulesFor(p, refused).empty()) << refused;
}

TEST(SeccompProfileTest, AllowsWhatProgramsAndTheExecAgentUse) {
  Json p = DefaultSeccompProfile(DefaultCapabilities());
  for (const char* allowed : {"read", "write", "openat", "execve", "wait4", "epoll_pwait", "ioctl", "setsid",
                              "connect", "sendmsg", "recvmsg", "prctl", "rt_sigaction", "futex", "arch_prctl",
                              "chroot", "io_uring_setup", "ptrace"})
    EXPECT_TRUE(AllowedOutright(p, allowed)) << allowed;
}

TEST(SeccompProfileTest, NamespacesNeedCapSysAdmin) {
  Json p = DefaultSeccompProfile(DefaultCapabilities());
  for (const char* call : {"unshare", "setns", "mount", "umount2", "bpf", "perf_event_open", "sethostname"})
    EXPECT_FALSE(AllowedOutright(p, call)) << call;
  // clone only without namespace flags; clone3 (flags out of seccomp's
  // sight) answers ENOSYS so that libc falls back to clone.
  auto clone = RulesFor(p, "clone");
  ASSERT_EQ(clone.size(), 1u);
  ASSERT_EQ(clone[0]["args"].size(), 1u);
  EXPECT_EQ(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone[0]["args"][0]["value"], 0x7E020000);
  EXPECT_EQ(clone[0]["args"][0]["valueTwo"], 0);
  auto clone3 = RulesFor(p, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0]["action"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0]["errnoRet"], 38);

  std::vector<std::string> admin = DefaultCapabilities();
  admin.push_back("CAP_SYS_ADMIN");
  Json q = DefaultSeccompProfile(admin);
  for (const char* call : {"unshare", "setns", "mount", "clone", "clone3"})
    EXPECT_TRUE(AllowedOutright(q, call)) << call;
}

TEST(SeccompProfileTest, CallsFollowTheirCapability) {
  Json p = DefaultSeccompProfile({});
  EXPECT_FALSE(AllowedOutright(p, "chroot"));
  EXPECT_FALSE(AllowedOutright(p, "settimeofday"));
  Json q = DefaultSeccompProfile({"CAP_SYS_CHROOT", "CAP_SYS_TIME", "CAP_DAC_READ_SEARCH"});
  EXPECT_TRUE(AllowedOutright(q, "chroot"));
  EXPECT_TRUE(AllowedOutright(q, "settimeofday"));
  EXPECT_TRUE(AllowedOutright(q, "open_by_handle_at"));
}

TEST(SeccompProfileTest, SocketAndPersonalityAreFilteredByArgument) {
  Json p = DefaultSeccompProfile(DefaultCapabilities());
  auto socket = RulesFor(p, "socket");
  ASSERT_EQ(socket.size(), 1u);
  EXPECT_EQ(socket[0]["args"][0]["op"], "SCMP_CMP_NE");
  EXPECT_EQ(socket[0]["args"][0]["value"], 40);  // AF_VSOCK
  std::vector<uint64_t> personas;
  for (const auto& rule : RulesFor(p, "personality")) {
    EXPECT_EQ(rule["args"][0]["op"], "SCMP_CMP_EQ");
    personas.push_back(rule["args"][0]["value"]);
  }
  EXPECT_EQ(personas, (std::vector<uint64_t>{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}));
}

}  // namespace
}  // namespace porthole::node
