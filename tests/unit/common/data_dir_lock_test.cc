#include "common/data_dir_lock.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace porthole {
namespace {

class DataDirLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "porthole-lock-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

// flock(2) locks belong to an open file, so a second open in this same
// process conflicts as another process would.
TEST_F(DataDirLockTest, ASecondHolderIsRefusedWithTheFirstsNameAndPid) {
  auto first = LockDataDir(dir_, "portholed");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->held());
  auto second = LockDataDir(dir_, "porthole-node");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "DataDirectoryInUse");
  EXPECT_NE(second.error().message.find("in use by portholed (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.error().message;
}

TEST_F(DataDirLockTest, TheLockGoesWithItsHolderAndMovesWithIt) {
  {
    auto first = LockDataDir(dir_, "portholed");
    ASSERT_TRUE(first.ok());
    DataDirLock moved = std::move(*first);
    EXPECT_FALSE(first->held());
    EXPECT_TRUE(moved.held());
    EXPECT_FALSE(LockDataDir(dir_, "again").ok()) << "the moved lock should still hold";
  }
  auto next = LockDataDir(dir_, "porthole-node");
  EXPECT_TRUE(next.ok()) << "released with its holder: " << next.error().message;
}

TEST_F(DataDirLockTest, AMissingDirectoryIsAConfigError) {
  auto lock = LockDataDir(dir_ + "/absent", "portholed");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, "ConfigError");
}

}  // namespace
}  // namespace porthole
