#include "node/container_user.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "node/file_tree.h"
#include "node/rootfs_file.h"

namespace porthole::node {
namespace {

class ContainerUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/porthole-user-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    root_ = dir_ + "/rootfs";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/etc").c_str(), 0755), 0);
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  void Write(const std::string& rel, const std::string& content) {
    ASSERT_TRUE(WriteFileAtomic(root_ + "/" + rel, content, 0644).ok());
  }
  void WriteDatabases() {
    Write("etc/passwd",
          "# comment\n"
          "root:x:0:0:root:/root:/bin/sh\n"
          "broken line\n"
          "app:x:1000:1001:App:/home/app:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    Write("etc/group",
          "root:x:0:\n"
          "wheel:x:10:root,app\n"
          "app:x:1001:\n"
          "docker:x:999:app\n"
          "nogroup:x:65534:\n");
  }

  std::string dir_, root_;
};

TEST_F(ContainerUserTest, EmptyIsRoot) {
  WriteDatabases();
  auto u = ResolveContainerUser(root_, "");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/root");
  EXPECT_EQ(u->additional_gids, std::vector<uint32_t>{10});
}

TEST_F(ContainerUserTest, Names) {
  WriteDatabases();
  auto u = ResolveContainerUser(root_, "app");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_EQ(u->home, "/home/app");
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 999}));

  u = ResolveContainerUser(root_, "app:nogroup");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 65534u);
  EXPECT_TRUE(u->additional_gids.empty());

  u = ResolveContainerUser(root_, "nobody:5");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 65534u);
  EXPECT_EQ(u->gid, 5u);
}

TEST_F(ContainerUserTest, NumericNeedsNoDatabase) {
  auto u = ResolveContainerUser(root_, "65534:65534");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->uid, 65534u);
  EXPECT_EQ(u->gid, 65534u);
  u = ResolveContainerUser(root_, "4242");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/");
}

TEST_F(ContainerUserTest, NumericUsesTheEntryWhenPresent) {
  WriteDatabases();
  auto u = ResolveContainerUser(root_, "1000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 1001u);
  u = ResolveContainerUser(root_, "1000:wheel");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 10u);
}

TEST_F(ContainerUserTest, UnknownNamesAndMalformedInput) {
  WriteDatabases();
  auto u = ResolveContainerUser(root_, "ghost");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, "ContainerStartFailed");
  EXPECT_NE(u.error().message.find("ghost"), std::string::npos);
  EXPECT_FALSE(ResolveContainerUser(root_, "app:ghosts").ok());
  for (const char* bad : {":0", "0:", "a:b:c", "4294967295", "99999999999", "a/b"}) {
    auto r = ResolveContainerUser(root_, bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST_F(ContainerUserTest, SymlinkOutOfTheRootIsResolvedInsideIt) {
  // A hostile image points /etc/passwd at a host file.
  std::string host_file = dir_ + "/host-passwd";
  ASSERT_TRUE(WriteFileAtomic(host_file, "evil:x:4321:4321::/:/bin/sh\n", 0644).ok());
  ASSERT_EQ(::symlink(host_file.c_str(), (root_ + "/etc/passwd").c_str()), 0);
  auto u = ResolveContainerUser(root_, "evil");
  EXPECT_FALSE(u.ok());

  ASSERT_EQ(::unlink((root_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../../../host-passwd", (root_ + "/etc/passwd").c_str()), 0);
  EXPECT_FALSE(ResolveContainerUser(root_, "evil").ok());
  // ...while a symlink that stays inside the root works.
  Write("etc/real-passwd", "inside:x:77:78::/:/bin/sh\n");
  ASSERT_EQ(::unlink((root_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/real-passwd", (root_ + "/etc/passwd").c_str()), 0);
  auto ok = ResolveContainerUser(root_, "inside");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->uid, 77u);
}

TEST_F(ContainerUserTest, FifoAndHugeFilesAreRefused) {
  ASSERT_EQ(::mkfifo((root_ + "/etc/passwd").c_str(), 0644), 0);
  EXPECT_FALSE(ResolveContainerUser(root_, "app").ok());  // must not hang
  ASSERT_EQ(::unlink((root_ + "/etc/passwd").c_str()), 0);
  Write("etc/passwd", std::string(5 << 20, '#'));
  EXPECT_FALSE(ResolveContainerUser(root_, "app").ok());
}

TEST_F(ContainerUserTest, ReadFileInRoot) {
  Write("etc/x", "hello");
  auto r = ReadFileInRoot(root_, "/etc/x", 100);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, "hello");
  auto missing = ReadFileInRoot(root_, "etc/none", 100);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(ReadFileInRoot(root_, "etc/x", 3).ok());
  EXPECT_FALSE(ReadFileInRoot(root_, "etc", 100).ok());  // a directory
  ASSERT_EQ(::symlink("/proc/self/root/etc/hostname", (root_ + "/etc/magic").c_str()), 0);
  auto magic = ReadFileInRoot(root_, "etc/magic", 100);
  EXPECT_TRUE(!magic.ok() || !magic->has_value());
}

}  // namespace
}  // namespace porthole::node
