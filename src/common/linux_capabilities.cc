#include "common/linux_capabilities.h"

#include <algorithm>
#include <cctype>

namespace porthole {

const std::vector<std::string>& AllCapabilities() {
  // In the kernel's numbering (include/uapi/linux/capability.h), 0 to 40.
  static const std::vector<std::string> all = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
      "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
      "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
      "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
      "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
      "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
      "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE"};
  return all;
}

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> defaults = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
      "CAP_AUDIT_WRITE"};
  return defaults;
}

std::optional<std::string> CanonicalCapability(std::string_view name) {
  std::string upper;
  for (char c : name) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (upper.rfind("CAP_", 0) != 0) upper = "CAP_" + upper;
  const auto& all = AllCapabilities();
  if (std::find(all.begin(), all.end(), upper) == all.end()) return std::nullopt;
  return upper;
}

namespace {
bool IsAll(const std::string& name) {
  std::string upper;
  for (char c : name) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return upper == "ALL";
}
}  // namespace

std::vector<std::string> ResolveCapabilities(const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop) {
  std::vector<std::string> set = DefaultCapabilities();
  if (std::any_of(drop.begin(), drop.end(), IsAll)) {
    set.clear();
  } else {
    for (const auto& name : drop)
      if (auto cap = CanonicalCapability(name)) set.erase(std::remove(set.begin(), set.end(), *cap), set.end());
  }
  if (std::any_of(add.begin(), add.end(), IsAll)) return AllCapabilities();
  for (const auto& name : add)
    if (auto cap = CanonicalCapability(name); cap && std::find(set.begin(), set.end(), *cap) == set.end())
      set.push_back(*cap);
  return set;
}

}  // namespace porthole
