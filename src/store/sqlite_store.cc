#include <sqlite3.h>

#include "store/store.h"

namespace porthole::store {
namespace {

Error DbError(sqlite3* db, std::string_view what) {
  return MakeError("ServerException", std::string(what) + ": " + sqlite3_errmsg(db), 500);
}

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Column(int i) {
    const unsigned char* t = sqlite3_column_text(stmt_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, i)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close(db_); }

  Status Init() {
    const char* schema =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "PRAGMA foreign_keys=ON;"
        "CREATE TABLE IF NOT EXISTS records ("
        "  kind TEXT NOT NULL, key TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '',"
        "  body TEXT NOT NULL, PRIMARY KEY (kind, key));"
        "CREATE INDEX IF NOT EXISTS records_by_parent ON records(kind, parent, key);";
    char* err = nullptr;
    if (sqlite3_exec(db_, schema, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      return MakeError("ServerException", "cannot initialize database: " + msg, 500);
    }
    // Databases from before the secondary key gain its column (empty) and index.
    bool has_secondary = false;
    {
      Statement columns(db_, "PRAGMA table_info(records)");
      while (columns.ok() && columns.Step() == SQLITE_ROW) has_secondary = has_secondary || columns.Column(1) == "secondary";
    }
    const char* migration = has_secondary ? "" : "ALTER TABLE records ADD COLUMN secondary TEXT NOT NULL DEFAULT '';";
    std::string indexes = std::string(migration) +
                          "CREATE INDEX IF NOT EXISTS records_by_secondary ON records(kind, secondary, key);";
    if (sqlite3_exec(db_, indexes.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      return MakeError("ServerException", "cannot migrate database: " + msg, 500);
    }
    sqlite3_busy_timeout(db_, 5000);
    return OkStatus();
  }

  Result<std::optional<Record>> Get(const std::string& kind, const std::string& key) override {
    Statement s(db_, "SELECT parent, body, secondary FROM records WHERE kind=?1 AND key=?2");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(1, kind).Bind(2, key);
    int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<Record>();
    if (rc != SQLITE_ROW) return DbError(db_, "read");
    Record r{key, s.Column(0), Json::parse(s.Column(1), nullptr, false), s.Column(2)};
    return std::optional<Record>(std::move(r));
  }

  Status Put(const std::string& kind, const Record& record) override {
    Statement s(db_, "INSERT INTO records(kind, key, parent, body, secondary) VALUES(?1,?2,?3,?4,?5) "
                     "ON CONFLICT(kind, key) DO UPDATE SET parent=excluded.parent, body=excluded.body, "
                     "secondary=excluded.secondary");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(1, kind).Bind(2, record.key).Bind(3, record.parent).Bind(4, record.body.dump()).Bind(5, record.secondary);
    if (s.Step() != SQLITE_DONE) return DbError(db_, "write");
    return OkStatus();
  }

  Result<bool> Insert(const std::string& kind, const Record& record) override {
    Statement s(db_, "INSERT OR IGNORE INTO records(kind, key, parent, body, secondary) VALUES(?1,?2,?3,?4,?5)");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(1, kind).Bind(2, record.key).Bind(3, record.parent).Bind(4, record.body.dump()).Bind(5, record.secondary);
    if (s.Step() != SQLITE_DONE) return DbError(db_, "write");
    return sqlite3_changes(db_) == 1;
  }

  Status Delete(const std::string& kind, const std::string& key) override {
    Statement s(db_, "DELETE FROM records WHERE kind=?1 AND key=?2");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(1, kind).Bind(2, key);
    if (s.Step() != SQLITE_DONE) return DbError(db_, "delete");
    return OkStatus();
  }

  Result<std::vector<Record>> List(const std::string& kind, const std::optional<std::string>& parent) override {
    Statement s(db_, parent ? "SELECT key, parent, body, secondary FROM records WHERE kind=?1 AND parent=?2 ORDER BY key"
                            : "SELECT key, parent, body, secondary FROM records WHERE kind=?1 ORDER BY key");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(1, kind);
    if (parent) s.Bind(2, *parent);
    return Rows(s);
  }

  Result<std::vector<Record>> ListBySecondary(const std::string& kind, const std::string& value) override {
    Statement s(db_, "SELECT key, parent, body, secondary FROM records WHERE kind=?1 AND secondary=?2 ORDER BY key");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(1, kind).Bind(2, value);
    return Rows(s);
  }

  Status Transaction(const std::function<Status()>& work) override {
    if (depth_ > 0) return work();  // nested: part of the outer transaction
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return DbError(db_, "begin");
    depth_++;
    Status result = OkStatus();
    try {
      result = work();
    } catch (...) {
      depth_--;
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    depth_--;
    if (!result) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return result;
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Error e = DbError(db_, "commit");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return e;
    }
    return OkStatus();
  }

 private:
  Result<std::vector<Record>> Rows(Statement& s) {
    std::vector<Record> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW)
      out.push_back(Record{s.Column(0), s.Column(1), Json::parse(s.Column(2), nullptr, false), s.Column(3)});
    if (rc != SQLITE_DONE) return DbError(db_, "list");
    return out;
  }

  sqlite3* db_;
  int depth_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return MakeError("ServerException", "cannot open database " + path + ": " + msg, 500);
  }
  auto store = std::make_unique<SqliteStore>(db);
  Status s = store->Init();
  if (!s) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace porthole::store
