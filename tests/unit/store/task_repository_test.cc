// Tasks over SQLite: the indexes by cluster and by container instance, and
// records written before the instance index existed.
#include "store/task_repository.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

namespace porthole::store {
namespace {

namespace fs = std::filesystem;

model::Task MakeTask(const std::string& id, const std::string& cluster, const std::string& instance) {
  model::Task t;
  t.id = id;
  t.cluster_name = cluster;
  t.arn = "arn:aws:ecs:us-east-1:123456789012:task/" + cluster + "/" + id;
  t.instance_id = instance;
  return t;
}

class TaskRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("porthole-repo-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    fs::remove(path_);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix);
  }
  fs::path path_;
};

TEST_F(TaskRepositoryTest, IndexesByClusterAndInstance) {
  auto store = OpenSqliteStore(path_.string());
  ASSERT_TRUE(store.ok());
  TaskRepository tasks(**store);
  ASSERT_TRUE(tasks.Put(MakeTask("a", "prod", "n1")).ok());
  ASSERT_TRUE(tasks.Put(MakeTask("b", "prod", "n2")).ok());
  ASSERT_TRUE(tasks.Put(MakeTask("c", "dev", "n1")).ok());
  auto on_n1 = tasks.OnInstance("n1");
  ASSERT_TRUE(on_n1.ok());
  ASSERT_EQ(on_n1->size(), 2u);
  EXPECT_EQ((*on_n1)[0].id, "a");
  EXPECT_EQ((*on_n1)[1].cluster_name, "dev");
  auto prod = tasks.InCluster("prod");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(prod->size(), 2u);
  auto in_dev = tasks.GetInCluster("dev", "a");
  ASSERT_TRUE(in_dev.ok());
  EXPECT_FALSE(in_dev->has_value());
  // A task that moves leaves the old instance's index.
  model::Task moved = MakeTask("a", "prod", "n3");
  ASSERT_TRUE(tasks.Put(moved).ok());
  EXPECT_EQ(tasks.OnInstance("n1")->size(), 1u);
  EXPECT_EQ(tasks.OnInstance("n3")->size(), 1u);
}

TEST_F(TaskRepositoryTest, OldDatabasesAreMigratedAndReindexed) {
  {
    // The schema before the secondary key, with a task in it.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const char* sql =
        "CREATE TABLE records (kind TEXT NOT NULL, key TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '',"
        " body TEXT NOT NULL, PRIMARY KEY (kind, key));"
        "INSERT INTO records VALUES('task','old','prod','{\"taskArn\":\"arn:aws:ecs:us-east-1:1:task/prod/old\","
        "\"_instanceId\":\"n1\"}');";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = OpenSqliteStore(path_.string());
  ASSERT_TRUE(store.ok()) << store.error().message;
  TaskRepository tasks(**store);
  EXPECT_TRUE(tasks.OnInstance("n1")->empty());
  auto fixed = tasks.Reindex();
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(*fixed, 1);
  ASSERT_EQ(tasks.OnInstance("n1")->size(), 1u);
  EXPECT_EQ(tasks.OnInstance("n1")->front().id, "old");
  EXPECT_EQ(*tasks.Reindex(), 0);
}

}  // namespace
}  // namespace porthole::store
