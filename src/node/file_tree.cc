#include "node/file_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/ids.h"
#include "node/subprocess.h"

namespace porthole::node {
namespace {

Error FileError(std::string message) { return MakeError("ServerException", std::move(message), 500); }

std::string Tail(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

}  // namespace

bool IsNormalizedAbsolutePath(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

Status CopyTree(const std::string& source, const std::string& dest) {
  if (!IsNormalizedAbsolutePath(source) || !IsNormalizedAbsolutePath(dest) || dest == "/")
    return FileError("copy: paths must be absolute and normalized");
  std::string cp = FindExecutable("cp");
  if (cp.empty()) return FileError("copy: cp not found");
  struct stat st;
  if (::lstat(dest.c_str(), &st) == 0) return FileError("copy: " + dest + " already exists");
  auto r = RunSubprocess({cp, "-a", "--reflink=auto", "--no-target-directory", "--", source, dest});
  if (!r.ok() || r->exit_code != 0) {
    std::string why = r.ok() ? Tail(r->err, 512) : r.error().message;
    (void)RemoveTree(dest);
    return FileError("copy " + source + " to " + dest + " failed: " + why);
  }
  return OkStatus();
}

Status RemoveTree(const std::string& path) {
  if (!IsNormalizedAbsolutePath(path) || path == "/") return FileError("remove: refusing path \"" + path + "\"");
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return OkStatus();
    return FileError("remove " + path + ": " + std::strerror(errno));
  }
  std::string rm = FindExecutable("rm");
  if (rm.empty()) return FileError("remove: rm not found");
  auto r = RunSubprocess({rm, "-rf", "--one-file-system", "--", path});
  if (!r.ok()) return r.error();
  if (r->exit_code != 0) return FileError("remove " + path + " failed: " + Tail(r->err, 512));
  return OkStatus();
}


}  // namespace porthole::node
