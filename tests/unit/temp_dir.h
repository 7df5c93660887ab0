#pragma once
// A fresh directory under /tmp for one test, removed with everything in it
// when the object goes.
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace porthole::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "porthole-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace porthole::testing
