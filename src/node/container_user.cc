#include "node/container_user.h"

#include <charconv>
#include <optional>
#include <string_view>

#include "node/rootfs_file.h"

namespace porthole::node {
namespace {

constexpr size_t kMaxDatabaseBytes = 4 << 20;  // /etc/passwd, /etc/group
constexpr size_t kMaxGroups = 64;

std::optional<uint32_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (v > 0xfffffffeULL) return std::nullopt;  // (uid_t)-1 means "unchanged" to the kernel
  return static_cast<uint32_t>(v);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

// Lines of a colon-separated database with at least `min_fields` fields,
// skipping comments and malformed lines (as libc's parsers do).
std::vector<std::vector<std::string_view>> Records(std::string_view text, size_t min_fields) {
  std::vector<std::vector<std::string_view>> records;
  for (std::string_view line : Split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto fields = Split(line, ':');
    if (fields.size() < min_fields) continue;
    records.push_back(std::move(fields));
  }
  return records;
}

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s)
    if (c == ':' || c == '\n' || c == '\0' || c == '/') return false;
  return true;
}

Error UnknownEntry(const std::string& what, std::string_view name, const char* file) {
  return MakeError("ContainerStartFailed",
                   "unable to find " + what + " " + std::string(name) + ": no matching entries in " + file, 400);
}

}  // namespace

Result<ContainerUser> ResolveContainerUser(const std::string& rootfs, const std::string& user) {
  std::string_view user_part = user, group_part;
  bool has_group = false;
  if (size_t colon = user.find(':'); colon != std::string::npos) {
    user_part = std::string_view(user).substr(0, colon);
    group_part = std::string_view(user).substr(colon + 1);
    has_group = true;
    if (group_part.find(':') != std::string_view::npos || group_part.empty())
      return MakeError("InvalidParameterException", "invalid user \"" + user + "\": expected user[:group]");
  }
  if (user_part.empty() && has_group)
    return MakeError("InvalidParameterException", "invalid user \"" + user + "\": the user part is empty");
  if (!user.empty() && (!ValidName(user_part) || (has_group && !ValidName(group_part))))
    return MakeError("InvalidParameterException", "invalid user \"" + user + "\"");

  auto passwd = ReadFileInRoot(rootfs, "etc/passwd", kMaxDatabaseBytes);
  if (!passwd.ok()) return passwd.error();
  const std::string passwd_text = passwd->value_or("");  // Records() points into it
  auto users = Records(passwd_text, 7);

  ContainerUser result;
  std::string user_name;
  std::optional<uint32_t> uid = user_part.empty() ? std::optional<uint32_t>(0) : ParseId(user_part);
  const std::vector<std::string_view>* entry = nullptr;
  for (const auto& r : users) {
    bool match = uid ? ParseId(r[2]) == uid : r[0] == user_part;
    if (match) {
      entry = &r;
      break;
    }
  }
  if (!uid && !entry) return UnknownEntry("user", user_part, "passwd file");
  if (entry) {
    auto entry_uid = ParseId((*entry)[2]);
    auto entry_gid = ParseId((*entry)[3]);
    if (!entry_uid || !entry_gid) return UnknownEntry("user", user_part, "passwd file");
    result.uid = *entry_uid;
    result.gid = *entry_gid;
    user_name = std::string((*entry)[0]);
    if (!(*entry)[5].empty() && (*entry)[5][0] == '/') result.home = std::string((*entry)[5]);
  } else {
    result.uid = *uid;
    result.gid = 0;
  }

  if (has_group) {
    if (auto gid = ParseId(group_part)) {
      result.gid = *gid;
      return result;
    }
  }
  if (!has_group && user_name.empty()) return result;  // numeric uid unknown to the image: no groups to add

  auto group = ReadFileInRoot(rootfs, "etc/group", kMaxDatabaseBytes);
  if (!group.ok()) return group.error();
  const std::string group_text = group->value_or("");
  auto groups = Records(group_text, 4);
  if (has_group) {
    for (const auto& r : groups) {
      if (r[0] == group_part) {
        auto gid = ParseId(r[2]);
        if (!gid) break;
        result.gid = *gid;
        return result;
      }
    }
    return UnknownEntry("group", group_part, "group file");
  }
  // Supplementary groups only make sense with the implicit primary group.
  for (const auto& r : groups) {
    auto gid = ParseId(r[2]);
    if (!gid || *gid == result.gid) continue;
    for (std::string_view member : Split(r[3], ',')) {
      if (member == user_name) {
        if (result.additional_gids.size() < kMaxGroups) result.additional_gids.push_back(*gid);
        break;
      }
    }
  }
  return result;
}

}  // namespace porthole::node
