#include "node/image_store.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "node/file_tree.h"

namespace porthole::node {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LinkTarget(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::vector<std::string> DirEntries(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox-static is not installed";
    char tmpl[] = "/tmp/porthole-image-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    store_ = std::make_unique<ImageStore>(dir_ + "/store");
  }
  void TearDown() override {
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }
  std::string dir_;
  std::unique_ptr<ImageStore> store_;
};

TEST(ImageStoreNamesTest, BusyboxAliases) {
  for (const char* name : {"busybox", "busybox:latest", "busybox:1.36", "public.ecr.aws/docker/library/busybox:latest",
                           "docker.io/library/busybox", "busybox@sha256:abc"})
    EXPECT_TRUE(ImageStore::IsBuiltinBusybox(name)) << name;
  for (const char* name : {"alpine", "busybox/alpine", "mybusybox", "busyboxes"})
    EXPECT_FALSE(ImageStore::IsBuiltinBusybox(name)) << name;
}

TEST(ImageStoreNamesTest, KeysAreSinglePathComponents) {
  EXPECT_EQ(ImageStore::ImageKey("busybox:latest"), "busybox");
  EXPECT_EQ(ImageStore::ImageKey("alpine"), "alpine%3Alatest");
  EXPECT_EQ(ImageStore::ImageKey("alpine:latest"), "alpine%3Alatest");
  EXPECT_EQ(ImageStore::ImageKey("repo.example:5000/team/app:v1"), "repo.example%3A5000%2Fteam%2Fapp%3Av1");
  EXPECT_EQ(ImageStore::ImageKey("../../etc"), "%2E.%2F..%2Fetc%3Alatest");
  EXPECT_EQ(ImageStore::ImageKey(".."), "%2E.%3Alatest");
  EXPECT_EQ(ImageStore::ImageKey(""), "");
  EXPECT_EQ(ImageStore::ImageKey("a b"), "");
  EXPECT_EQ(ImageStore::ImageKey(std::string(256, 'a')), "");
}

TEST_F(ImageStoreTest, BuildsBusybox) {
  auto rootfs = store_->RootfsPath("busybox");
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message;
  EXPECT_EQ(*rootfs, dir_ + "/store/images/busybox/rootfs");
  struct stat st;
  ASSERT_EQ(::lstat((*rootfs + "/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  for (const char* applet : {"sh", "echo", "id", "cat", "sleep", "stty", "ls", "ps", "env", "sha256sum", "head", "dd",
                             "yes", "true", "false"})
    EXPECT_EQ(LinkTarget(*rootfs + "/bin/" + applet), "busybox") << applet;
  EXPECT_EQ(LinkTarget(*rootfs + "/usr/bin/env"), "/bin/busybox");
  EXPECT_NE(ReadAll(*rootfs + "/etc/passwd").find("root:x:0:0:"), std::string::npos);
  EXPECT_NE(ReadAll(*rootfs + "/etc/passwd").find("nobody:x:65534:65534:"), std::string::npos);
  EXPECT_NE(ReadAll(*rootfs + "/etc/group").find("root:x:0:"), std::string::npos);
  for (const char* d : {"proc", "dev", "sys", "tmp", "root", "managed-agents"}) {
    ASSERT_EQ(::lstat((*rootfs + "/" + d).c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_TRUE(DirEntries(*rootfs + "/" + d).empty()) << d;
  }
  ASSERT_EQ(::lstat((*rootfs + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  // Nothing half-built remains next to the image.
  EXPECT_EQ(DirEntries(dir_ + "/store/images"), std::vector<std::string>{"busybox"});
}

TEST_F(ImageStoreTest, AliasesShareOneImage) {
  auto a = store_->RootfsPath("busybox:latest");
  auto b = store_->RootfsPath("public.ecr.aws/docker/library/busybox:latest");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
}

TEST_F(ImageStoreTest, ConcurrentFirstUse) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (store_->RootfsPath("busybox").ok()) ++ok;
    });
  // A second store on the same directory races the first one's threads.
  ImageStore other(dir_ + "/store");
  EXPECT_TRUE(other.RootfsPath("busybox").ok());
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(DirEntries(dir_ + "/store/images"), std::vector<std::string>{"busybox"});
}

TEST_F(ImageStoreTest, UnknownImage) {
  auto r = store_->RootfsPath("nginx:1.25");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ClientException");
  EXPECT_NE(r.error().message.find("ImageNotFound"), std::string::npos);
  EXPECT_NE(r.error().message.find("nginx:1.25"), std::string::npos);
  auto p = store_->PrepareRootfs("nginx:1.25", dir_ + "/dest");
  EXPECT_FALSE(p.ok());
  EXPECT_NE(::access((dir_ + "/dest").c_str(), F_OK), 0);
}

TEST_F(ImageStoreTest, PrepareRootfsMakesAnIndependentCopy) {
  std::string dest = dir_ + "/bundle-rootfs";
  auto r = store_->PrepareRootfs("busybox", dest);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, dest);
  EXPECT_EQ(LinkTarget(dest + "/bin/sh"), "busybox");
  struct stat st;
  ASSERT_EQ(::lstat((dest + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  // Writing the copy does not change the image.
  ASSERT_TRUE(WriteFileAtomic(dest + "/etc/passwd", "changed\n", 0644).ok());
  EXPECT_NE(ReadAll(*store_->RootfsPath("busybox") + "/etc/passwd"), "changed\n");
  // The destination must not exist.
  EXPECT_FALSE(store_->PrepareRootfs("busybox", dest).ok());
}

TEST_F(ImageStoreTest, AddImageFromDirectory) {
  std::string src = dir_ + "/src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(src + "/hello", "world", 0644).ok());
  ASSERT_TRUE(store_->AddImageFromDirectory("example.com/app:v1", src).ok());
  auto r = store_->RootfsPath("example.com/app:v1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(ReadAll(*r + "/hello"), "world");
  EXPECT_FALSE(store_->AddImageFromDirectory("example.com/app:v1", src).ok());
  EXPECT_FALSE(store_->RootfsPath("example.com/app:v2").ok());
}

}  // namespace
}  // namespace porthole::node
