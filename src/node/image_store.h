#pragma once
// The node's local image store: one unpacked root filesystem per image,
// under <root_dir>/images/<key>/rootfs. Images only ever appear complete
// (built in a temporary directory, then renamed into place).
//
// Built in: `busybox` (any reference whose last path component is
// "busybox", optionally with a tag or digest: "busybox:latest",
// "public.ecr.aws/docker/library/busybox:1.36") is made on first use from
// the host's static busybox: /bin/busybox, a symlink per applet, /etc/passwd,
// /etc/group, and empty /proc /dev /sys /tmp /root /managed-agents.
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace porthole::node {

class ImageStore {
 public:
  // `root_dir` is created when missing. `busybox_path` is the statically
  // linked busybox the built-in image is made from (Debian's busybox-static).
  explicit ImageStore(std::string root_dir, std::string busybox_path = "/bin/busybox");

  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  // True for references served by the built-in busybox image.
  static bool IsBuiltinBusybox(std::string_view image);

  // The directory name an image reference is stored under: "busybox" for the
  // built-in image; otherwise the reference with ":latest" added when it has
  // no tag or digest, and every byte outside [A-Za-z0-9_.-] (and a leading
  // '.') percent-encoded, so a key is always one safe path component.
  // Empty for a malformed reference (empty, > 255 bytes, control bytes or
  // spaces).
  static std::string ImageKey(std::string_view image);

  // The image's rootfs directory, building the built-in image on first use.
  // Error "ClientException" ("ImageNotFound: ...", naming the image) when
  // the store does not have it.
  Result<std::string> RootfsPath(const std::string& image);

  // Copies the image's rootfs to `dest_dir` (which must not exist; its
  // parent must) preserving modes, owners and symlinks; returns `dest_dir`.
  // A container gets its own copy, so nothing it writes reaches the image.
  // On failure nothing is left at `dest_dir`.
  Result<std::string> PrepareRootfs(const std::string& image, const std::string& dest_dir);

  // Adds an image whose rootfs is a copy of the directory `source_rootfs`.
  // Error "ClientException" when the reference is malformed or already
  // present.
  Status AddImageFromDirectory(const std::string& image, const std::string& source_rootfs);

  const std::string& root_dir() const { return root_dir_; }

 private:
  Status EnsureBusybox();
  std::string ImageDir(const std::string& key) const;

  std::string root_dir_;
  std::string busybox_path_;
  std::mutex mu_;  // serializes building the built-in image within this process
};

}  // namespace porthole::node
