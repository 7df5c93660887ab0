#include "store/task_repository.h"

namespace porthole::store {

Result<std::optional<model::Task>> TaskRepository::Get(const std::string& task_id) {
  auto record = store_.Get(kind::kTask, task_id);
  if (!record) return record.error();
  if (!*record) return std::optional<model::Task>();
  model::Task task = model::TaskFromStored((*record)->body);
  task.id = (*record)->key;
  task.cluster_name = (*record)->parent;
  return std::optional<model::Task>(std::move(task));
}

Result<std::optional<model::Task>> TaskRepository::GetInCluster(const std::string& cluster_name,
                                                                const std::string& task_id) {
  auto task = Get(task_id);
  if (!task) return task.error();
  if (*task && (*task)->cluster_name != cluster_name) return std::optional<model::Task>();
  return task;
}

Status TaskRepository::Put(const model::Task& task) {
  return store_.Put(kind::kTask, Record{task.id, task.cluster_name, model::ToStored(task), task.instance_id});
}

std::vector<model::Task> TaskRepository::Decode(const std::vector<Record>& records) {
  std::vector<model::Task> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    model::Task task = model::TaskFromStored(r.body);
    task.id = r.key;
    task.cluster_name = r.parent;
    out.push_back(std::move(task));
  }
  return out;
}

Result<std::vector<model::Task>> TaskRepository::InCluster(const std::string& cluster_name) {
  auto records = store_.List(kind::kTask, cluster_name);
  if (!records) return records.error();
  return Decode(*records);
}

Result<std::vector<model::Task>> TaskRepository::OnInstance(const std::string& instance_id) {
  auto records = store_.ListBySecondary(kind::kTask, instance_id);
  if (!records) return records.error();
  return Decode(*records);
}

Result<std::vector<model::Task>> TaskRepository::All() {
  auto records = store_.List(kind::kTask, std::nullopt);
  if (!records) return records.error();
  return Decode(*records);
}

Result<int> TaskRepository::Reindex() {
  auto records = store_.List(kind::kTask, std::nullopt);
  if (!records) return records.error();
  int fixed = 0;
  Status s = store_.Transaction([&]() -> Status {
    for (auto r : *records) {
      std::string instance = r.body.is_object() ? r.body.value("_instanceId", "") : "";
      if (instance.empty() || r.secondary == instance) continue;
      r.secondary = instance;
      if (Status put = store_.Put(kind::kTask, r); !put) return put;
      fixed++;
    }
    return OkStatus();
  });
  if (!s) return s.error();
  return fixed;
}

}  // namespace porthole::store
