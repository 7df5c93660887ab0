#pragma once
// Typed access to the Store for the resources of model/resources.h: one
// repository per kind, each record keyed and parented as store.h says.
// (Tasks, with their instance index, are in task_repository.h.)
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/resources.h"
#include "store/store.h"

namespace porthole::store {

// A Store kind as typed records. `Traits` says how: kKind, Key(T),
// Parent(T), ToStored(T) and FromStored(Record) (which restores the
// identity members from the record's key and parent).
template <class T, class Traits>
class Repository {
 public:
  explicit Repository(Store& store) : store_(store) {}

  Result<std::optional<T>> Get(const std::string& key) {
    auto record = store_.Get(Traits::kKind, key);
    if (!record) return record.error();
    if (!*record) return std::optional<T>();
    return std::optional<T>(Traits::FromStored(**record));
  }
  Status Put(const T& value) {
    return store_.Put(Traits::kKind, Record{Traits::Key(value), Traits::Parent(value), Traits::ToStored(value)});
  }
  // Inserts only if absent; false when the key is taken.
  Result<bool> Insert(const T& value) {
    return store_.Insert(Traits::kKind, Record{Traits::Key(value), Traits::Parent(value), Traits::ToStored(value)});
  }
  Status Delete(const std::string& key) { return store_.Delete(Traits::kKind, key); }
  // All of the kind, or those under `parent`, in key order.
  Result<std::vector<T>> List(const std::optional<std::string>& parent = std::nullopt) {
    auto records = store_.List(Traits::kKind, parent);
    if (!records) return records.error();
    std::vector<T> out;
    out.reserve(records->size());
    for (const auto& r : *records) out.push_back(Traits::FromStored(r));
    return out;
  }

 private:
  Store& store_;
};

struct ClusterTraits {
  static constexpr const char* kKind = kind::kCluster;
  static std::string Key(const model::Cluster& c) { return c.name; }
  static std::string Parent(const model::Cluster&) { return ""; }
  static Json ToStored(const model::Cluster& c) { return model::ToStored(c); }
  static model::Cluster FromStored(const Record& r) {
    model::Cluster c = model::ClusterFromStored(r.body);
    c.name = r.key;
    return c;
  }
};
using ClusterRepository = Repository<model::Cluster, ClusterTraits>;

// Keyed "<family>:<revision>", parented by the family.
struct TaskDefinitionTraits {
  static constexpr const char* kKind = kind::kTaskDefinition;
  static std::string Key(const model::TaskDefinition& d) { return d.Key(); }
  static std::string Parent(const model::TaskDefinition& d) { return d.family; }
  static Json ToStored(const model::TaskDefinition& d) { return model::ToStored(d); }
  static model::TaskDefinition FromStored(const Record& r) { return model::TaskDefinitionFromStored(r.body); }
};
using TaskDefinitionRepository = Repository<model::TaskDefinition, TaskDefinitionTraits>;

// Keyed "<cluster>/<name>", parented by the cluster.
struct ServiceTraits {
  static constexpr const char* kKind = kind::kService;
  static std::string Key(const model::Service& s) { return s.Key(); }
  static std::string Parent(const model::Service& s) { return s.cluster_name; }
  static Json ToStored(const model::Service& s) { return model::ToStored(s); }
  static model::Service FromStored(const Record& r) {
    model::Service s = model::ServiceFromStored(r.body);
    s.cluster_name = r.parent;
    return s;
  }
};
using ServiceRepository = Repository<model::Service, ServiceTraits>;

struct ContainerInstanceTraits {
  static constexpr const char* kKind = kind::kContainerInstance;
  static std::string Key(const model::ContainerInstance& i) { return i.id; }
  static std::string Parent(const model::ContainerInstance&) { return ""; }
  static Json ToStored(const model::ContainerInstance& i) { return model::ToStored(i); }
  static model::ContainerInstance FromStored(const Record& r) {
    model::ContainerInstance i = model::ContainerInstanceFromStored(r.body);
    i.id = r.key;
    return i;
  }
};
using ContainerInstanceRepository = Repository<model::ContainerInstance, ContainerInstanceTraits>;

// Keyed by session id, parented by the task id.
struct SessionTraits {
  static constexpr const char* kKind = kind::kSession;
  static std::string Key(const model::Session& s) { return s.id; }
  static std::string Parent(const model::Session& s) { return s.task_id; }
  static Json ToStored(const model::Session& s) { return model::ToStored(s); }
  static model::Session FromStored(const Record& r) {
    model::Session s = model::SessionFromStored(r.body);
    s.id = r.key;
    s.task_id = r.parent;
    return s;
  }
};
using SessionRepository = Repository<model::Session, SessionTraits>;

}  // namespace porthole::store
