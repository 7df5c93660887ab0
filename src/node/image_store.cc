#include "node/image_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "node/file_tree.h"
#include "node/subprocess.h"

namespace porthole::node {
namespace {

constexpr const char kBusyboxKey[] = "busybox";

Error StoreError(std::string message) { return MakeError("ServerException", std::move(message), 500); }

Error Errno(const std::string& what) { return StoreError(what + ": " + std::strerror(errno)); }

// Same users and groups as the official busybox image.
constexpr const char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "bin:x:2:2:bin:/bin:/bin/false\n"
    "sys:x:3:3:sys:/dev:/bin/false\n"
    "sync:x:4:100:sync:/bin:/bin/sync\n"
    "mail:x:8:8:mail:/var/spool/mail:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "operator:x:37:37:Operator:/var:/bin/false\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n";

constexpr const char kGroup[] =
    "root:x:0:\n"
    "daemon:x:1:\n"
    "bin:x:2:\n"
    "sys:x:3:\n"
    "adm:x:4:\n"
    "tty:x:5:\n"
    "disk:x:6:\n"
    "lp:x:7:\n"
    "mail:x:8:\n"
    "kmem:x:9:\n"
    "wheel:x:10:root\n"
    "cdrom:x:11:\n"
    "dialout:x:18:\n"
    "floppy:x:19:\n"
    "video:x:28:\n"
    "audio:x:29:\n"
    "tape:x:32:\n"
    "www-data:x:33:\n"
    "operator:x:37:\n"
    "utmp:x:43:\n"
    "plugdev:x:46:\n"
    "staff:x:50:\n"
    "lock:x:54:\n"
    "netdev:x:82:\n"
    "users:x:100:\n"
    "nobody:x:65534:\n"
    "nogroup:x:65534:\n";

constexpr const char kHosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

// Applets the rest of Porthole (and its tests) rely on.
const char* const kRequiredApplets[] = {"sh",  "echo", "id",        "cat",  "sleep", "stty", "ls",  "ps",
                                        "env", "head", "sha256sum", "dd",   "yes",   "true", "false"};

bool IsApplet(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

// Creates a directory with exactly `mode` (mkdir's mode is subject to the umask).
Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return Errno("mkdir " + path);
  if (::chmod(path.c_str(), mode) != 0) return Errno("chmod " + path);
  return OkStatus();
}

// Creates <root>/images (and missing parents) when absent.
Status EnsureImagesDir(const std::string& root) {
  std::error_code ec;
  std::filesystem::create_directories(root + "/images", ec);
  if (ec) return StoreError("create " + root + "/images: " + ec.message());
  return OkStatus();
}

Status WriteNewFile(const std::string& path, std::string_view content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Errno("create " + path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Errno("write " + path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) {
    ::close(fd);
    return Errno("chmod " + path);
  }
  ::close(fd);
  return OkStatus();
}

Status CopyFile(const std::string& source, const std::string& dest, mode_t mode) {
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("open " + source);
  int out = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (out < 0) {
    ::close(in);
    return Errno("create " + dest);
  }
  char buf[65536];
  Status status = OkStatus();
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Errno("read " + source);
      break;
    }
    if (n == 0) break;
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += w;
    }
    if (off < n) {
      status = Errno("write " + dest);
      break;
    }
  }
  if (status.ok() && ::fchmod(out, mode) != 0) status = Errno("chmod " + dest);
  ::close(in);
  ::close(out);
  return status;
}

Status Symlink(const std::string& target, const std::string& path) {
  if (::symlink(target.c_str(), path.c_str()) != 0 && errno != EEXIST) return Errno("symlink " + path);
  return OkStatus();
}

// Fills `rootfs` (an empty directory) with the busybox image.
Status BuildBusyboxRootfs(const std::string& busybox, const std::string& rootfs) {
  struct {
    const char* path;
    mode_t mode;
  } const dirs[] = {{"bin", 0755},  {"sbin", 0755},      {"usr", 0755},      {"usr/bin", 0755},
                    {"usr/sbin", 0755}, {"etc", 0755},   {"proc", 0555},     {"dev", 0755},
                    {"sys", 0555},  {"tmp", 01777},      {"root", 0700},     {"home", 0755},
                    {"var", 0755},  {"var/spool", 0755}, {"var/spool/mail", 0755}, {"var/www", 0755},
                    {"managed-agents", 0755}};
  for (const auto& d : dirs)
    if (auto s = MakeDir(rootfs + "/" + d.path, d.mode); !s.ok()) return s;

  if (auto s = CopyFile(busybox, rootfs + "/bin/busybox", 0755); !s.ok()) return s;

  auto list = RunSubprocess({busybox, "--list-full"});
  if (!list.ok()) return list.error();
  if (list->exit_code != 0) return StoreError("busybox --list-full failed: " + list->err);
  std::set<std::string> linked;
  size_t start = 0;
  const std::string& text = list->out;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    size_t slash = line.rfind('/');
    std::string dir = slash == std::string::npos ? "" : line.substr(0, slash);
    std::string name = slash == std::string::npos ? line : line.substr(slash + 1);
    if (!IsApplet(name) || name == "busybox") continue;
    // Every applet in /bin; also at busybox's own location for it, so that
    // scripts naming e.g. /usr/bin/env or /sbin/ifconfig work.
    if (linked.insert(name).second)
      if (auto s = Symlink("busybox", rootfs + "/bin/" + name); !s.ok()) return s;
    if (dir == "sbin" || dir == "usr/bin" || dir == "usr/sbin")
      if (auto s = Symlink("/bin/busybox", rootfs + "/" + dir + "/" + name); !s.ok()) return s;
  }
  for (const char* applet : kRequiredApplets)
    if (!linked.count(applet)) return StoreError(std::string("busybox lacks the applet ") + applet);

  if (auto s = WriteNewFile(rootfs + "/etc/passwd", kPasswd, 0644); !s.ok()) return s;
  if (auto s = WriteNewFile(rootfs + "/etc/group", kGroup, 0644); !s.ok()) return s;
  if (auto s = WriteNewFile(rootfs + "/etc/hosts", kHosts, 0644); !s.ok()) return s;
  return OkStatus();
}

}  // namespace

ImageStore::ImageStore(std::string root_dir, std::string busybox_path)
    : root_dir_(std::move(root_dir)), busybox_path_(std::move(busybox_path)) {
  while (root_dir_.size() > 1 && root_dir_.back() == '/') root_dir_.pop_back();
}

bool ImageStore::IsBuiltinBusybox(std::string_view image) {
  size_t slash = image.rfind('/');
  std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  if (last.substr(0, 7) != "busybox") return false;
  return last.size() == 7 || last[7] == ':' || last[7] == '@';
}

std::string ImageStore::ImageKey(std::string_view image) {
  if (image.empty() || image.size() > 255) return "";
  for (unsigned char c : image)
    if (c <= 0x20 || c == 0x7f) return "";
  if (IsBuiltinBusybox(image)) return kBusyboxKey;
  std::string ref(image);
  size_t slash = ref.rfind('/');
  std::string_view last = slash == std::string::npos ? std::string_view(ref) : std::string_view(ref).substr(slash + 1);
  if (last.find(':') == std::string_view::npos && last.find('@') == std::string_view::npos) ref += ":latest";
  static const char kHex[] = "0123456789ABCDEF";
  std::string key;
  for (size_t i = 0; i < ref.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(ref[i]);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || (c == '.' && i > 0);
    if (plain) {
      key.push_back(static_cast<char>(c));
    } else {
      key.push_back('%');
      key.push_back(kHex[c >> 4]);
      key.push_back(kHex[c & 15]);
    }
  }
  return key;
}

std::string ImageStore::ImageDir(const std::string& key) const { return root_dir_ + "/images/" + key; }

Status ImageStore::EnsureBusybox() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string final_dir = ImageDir(kBusyboxKey);
  struct stat st;
  if (::lstat((final_dir + "/rootfs").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return OkStatus();

  if (::access(busybox_path_.c_str(), X_OK) != 0)
    return StoreError("cannot build the busybox image: " + busybox_path_ + " is missing (install busybox-static)");
  if (auto s = EnsureImagesDir(root_dir_); !s.ok()) return s;

  std::string tmp_template = root_dir_ + "/images/.tmp-busybox-XXXXXX";
  if (::mkdtemp(tmp_template.data()) == nullptr) return Errno("mkdtemp in " + root_dir_ + "/images");
  const std::string tmp = tmp_template;
  Status built = ::chmod(tmp.c_str(), 0755) == 0 ? OkStatus() : Status(Errno("chmod " + tmp));
  if (built.ok()) built = MakeDir(tmp + "/rootfs", 0755);
  if (built.ok()) built = BuildBusyboxRootfs(busybox_path_, tmp + "/rootfs");
  if (!built.ok()) {
    (void)RemoveTree(tmp);
    return built;
  }
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int e = errno;
    (void)RemoveTree(tmp);
    // Another process finished first: its image is as good as ours.
    if (e == EEXIST || e == ENOTEMPTY) return OkStatus();
    errno = e;
    return Errno("rename into " + final_dir);
  }
  return OkStatus();
}

Result<std::string> ImageStore::RootfsPath(const std::string& image) {
  std::string key = ImageKey(image);
  if (key.empty()) return MakeError("ClientException", "ImageNotFound: invalid image reference \"" + image + "\"");
  if (key == kBusyboxKey)
    if (auto s = EnsureBusybox(); !s.ok()) return s.error();
  std::string rootfs = ImageDir(key) + "/rootfs";
  struct stat st;
  if (::lstat(rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return MakeError("ClientException", "ImageNotFound: image \"" + image + "\" is not in the node's image store");
  return rootfs;
}

Result<std::string> ImageStore::PrepareRootfs(const std::string& image, const std::string& dest_dir) {
  auto rootfs = RootfsPath(image);
  if (!rootfs.ok()) return rootfs.error();
  if (auto s = CopyTree(*rootfs, dest_dir); !s.ok()) return s.error();
  return dest_dir;
}

Status ImageStore::AddImageFromDirectory(const std::string& image, const std::string& source_rootfs) {
  std::string key = ImageKey(image);
  if (key.empty()) return MakeError("ClientException", "invalid image reference \"" + image + "\"");
  const std::string final_dir = ImageDir(key);
  struct stat st;
  if (::lstat(final_dir.c_str(), &st) == 0)
    return MakeError("ClientException", "image \"" + image + "\" is already in the node's image store");
  if (auto s = EnsureImagesDir(root_dir_); !s.ok()) return s;
  std::string tmp_template = root_dir_ + "/images/.tmp-import-XXXXXX";
  if (::mkdtemp(tmp_template.data()) == nullptr) return Errno("mkdtemp in " + root_dir_ + "/images");
  const std::string tmp = tmp_template;
  Status copied = ::chmod(tmp.c_str(), 0755) == 0 ? OkStatus() : Status(Errno("chmod " + tmp));
  if (copied.ok()) copied = CopyTree(source_rootfs, tmp + "/rootfs");
  if (!copied.ok()) {
    (void)RemoveTree(tmp);
    return copied;
  }
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int e = errno;
    (void)RemoveTree(tmp);
    if (e == EEXIST || e == ENOTEMPTY)
      return MakeError("ClientException", "image \"" + image + "\" is already in the node's image store");
    errno = e;
    return Errno("rename into " + final_dir);
  }
  return OkStatus();
}

}  // namespace porthole::node
