#pragma once
// Tasks over the Store, with the indexes the hot paths need: by cluster (the
// record's parent) for ListTasks and cluster counts, and by the container
// instance a task is placed on (the record's secondary key) for a node's poll,
// so neither is a scan of every task.
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/task.h"
#include "store/store.h"

namespace porthole::store {

class TaskRepository {
 public:
  explicit TaskRepository(Store& store) : store_(store) {}

  // The task with this id, if any.
  Result<std::optional<model::Task>> Get(const std::string& task_id);
  // The task with this id in this cluster (a task of another cluster is absent).
  Result<std::optional<model::Task>> GetInCluster(const std::string& cluster_name, const std::string& task_id);
  // Inserts or replaces, keeping both indexes.
  Status Put(const model::Task& task);
  Result<std::vector<model::Task>> InCluster(const std::string& cluster_name);
  Result<std::vector<model::Task>> OnInstance(const std::string& instance_id);
  Result<std::vector<model::Task>> All();

  // Gives records written before the instance index existed their index
  // entry; run once at start. Returns how many it re-indexed.
  Result<int> Reindex();

 private:
  static std::vector<model::Task> Decode(const std::vector<Record>& records);
  Store& store_;
};

}  // namespace porthole::store
