#pragma once
// Durable state of the control plane. Records are JSON documents addressed by
// (kind, key) with an optional parent key (e.g. a task's cluster) for listing.
// Every write is atomic: a crash leaves either the old or the new document.
// Implementations: SQLite (embedded default). PostgreSQL comes with scale-out.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace porthole::store {

using Json = nlohmann::json;

// Kinds in use; the store itself does not interpret them.
namespace kind {
inline constexpr const char* kCluster = "cluster";                 // key: cluster name
inline constexpr const char* kTaskDefinition = "task-definition";  // key: family:revision, parent: family
inline constexpr const char* kTask = "task";                       // key: task id, parent: cluster name
inline constexpr const char* kContainerInstance = "container-instance";  // key: instance id, parent: cluster
inline constexpr const char* kAccessKey = "access-key";            // key: access key id
inline constexpr const char* kSetting = "setting";                 // key: name
inline constexpr const char* kSession = "session";                 // key: session id, parent: task id
inline constexpr const char* kService = "service";                 // key: cluster/name, parent: cluster
inline constexpr const char* kIamUser = "iam-user";                // key: user name
inline constexpr const char* kIamRole = "iam-role";                // key: role name
inline constexpr const char* kIamPolicy = "iam-policy";            // key: policy ARN
inline constexpr const char* kAuditEvent = "audit-event";          // key: time + id, parent: principal ARN
inline constexpr const char* kJoinToken = "join-token";            // key: SHA-256 of the token (hex)
}  // namespace kind

struct Record {
  std::string key;
  std::string parent;
  Json body;
  // A second listing key (e.g. the container instance a task is placed on),
  // indexed like `parent`; empty when the kind has none.
  std::string secondary = "";
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::optional<Record>> Get(const std::string& kind, const std::string& key) = 0;
  // Inserts or replaces.
  virtual Status Put(const std::string& kind, const Record& record) = 0;
  // Inserts only if absent: "ResourceInUseException"-style callers map false to their error.
  virtual Result<bool> Insert(const std::string& kind, const Record& record) = 0;
  virtual Status Delete(const std::string& kind, const std::string& key) = 0;
  // All records of a kind (in key order), optionally only those with this parent.
  virtual Result<std::vector<Record>> List(const std::string& kind, const std::optional<std::string>& parent) = 0;
  // The records of a kind whose `secondary` is `value` (in key order).
  virtual Result<std::vector<Record>> ListBySecondary(const std::string& kind, const std::string& value) = 0;

  // Runs `work` in one transaction: all of its writes land, or none do
  // (when it returns an error or throws).
  virtual Status Transaction(const std::function<Status()>& work) = 0;
};

// Opens (creating if needed) the SQLite database at `path` in WAL mode.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace porthole::store
