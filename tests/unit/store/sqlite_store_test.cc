#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/store.h"

namespace porthole::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("porthole-store-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "state.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, PutGetListDelete) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  auto& s = **store;
  ASSERT_TRUE(s.Put(kind::kTask, {"t2", "demo", {{"n", 2}}}).ok());
  ASSERT_TRUE(s.Put(kind::kTask, {"t1", "demo", {{"n", 1}}}).ok());
  ASSERT_TRUE(s.Put(kind::kTask, {"t3", "other", {{"n", 3}}}).ok());
  auto got = s.Get(kind::kTask, "t1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->body["n"], 1);
  auto demo = s.List(kind::kTask, std::string("demo"));
  ASSERT_TRUE(demo.ok());
  ASSERT_EQ(demo->size(), 2u);
  EXPECT_EQ((*demo)[0].key, "t1");
  EXPECT_EQ(s.List(kind::kTask, std::nullopt)->size(), 3u);
  ASSERT_TRUE(s.Delete(kind::kTask, "t1").ok());
  EXPECT_FALSE(s.Get(kind::kTask, "t1")->has_value());
}

TEST_F(SqliteStoreTest, InsertDoesNotReplace) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(*(*store)->Insert(kind::kCluster, {"demo", "", {{"v", 1}}}));
  EXPECT_FALSE(*(*store)->Insert(kind::kCluster, {"demo", "", {{"v", 2}}}));
  EXPECT_EQ((*(*store)->Get(kind::kCluster, "demo"))->body["v"], 1);
}

TEST_F(SqliteStoreTest, FailedTransactionLeavesNothingBehind) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  auto& s = **store;
  Status result = s.Transaction([&]() -> Status {
    EXPECT_TRUE(s.Put(kind::kCluster, {"a", "", {{"v", 1}}}).ok());
    return MakeError("Boom", "fail on purpose");
  });
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(s.Get(kind::kCluster, "a")->has_value());
  ASSERT_TRUE(s.Transaction([&]() -> Status { return s.Put(kind::kCluster, {"b", "", {{"v", 1}}}); }).ok());
  EXPECT_TRUE(s.Get(kind::kCluster, "b")->has_value());
}

TEST_F(SqliteStoreTest, SurvivesReopen) {
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Put(kind::kCluster, {"demo", "", {{"clusterName", "demo"}}}).ok());
  }
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  auto got = (*store)->Get(kind::kCluster, "demo");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->body["clusterName"], "demo");
}

}  // namespace
}  // namespace porthole::store
