#pragma once
// Internal to src/model: reading members of stored JSON documents totally:
// a missing member, one of the wrong type, or a document that is not an
// object gives the fallback (records written by older versions still load).
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace porthole::model::stored {

using Json = nlohmann::json;

inline const Json* Member(const Json& j, const char* member) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(member);
  return it == j.end() ? nullptr : &*it;
}
inline std::string Str(const Json& j, const char* member, const std::string& fallback = "") {
  const Json* m = Member(j, member);
  return m && m->is_string() ? m->get<std::string>() : fallback;
}
inline std::optional<std::string> OptStr(const Json& j, const char* member) {
  const Json* m = Member(j, member);
  if (!m || !m->is_string()) return std::nullopt;
  return m->get<std::string>();
}
inline std::optional<double> OptNum(const Json& j, const char* member) {
  const Json* m = Member(j, member);
  if (!m || !m->is_number()) return std::nullopt;
  return m->get<double>();
}
inline double Num(const Json& j, const char* member, double fallback = 0) { return OptNum(j, member).value_or(fallback); }
inline int64_t Int(const Json& j, const char* member, int64_t fallback = 0) {
  const Json* m = Member(j, member);
  return m && m->is_number_integer() ? m->get<int64_t>() : fallback;
}
inline bool Bool(const Json& j, const char* member, bool fallback = false) {
  const Json* m = Member(j, member);
  return m && m->is_boolean() ? m->get<bool>() : fallback;
}
inline Json ArrayOr(const Json& j, const char* member) {
  const Json* m = Member(j, member);
  return m && m->is_array() ? *m : Json::array();
}
inline Json ValueOrNull(const Json& j, const char* member) {
  const Json* m = Member(j, member);
  return m ? *m : Json();
}

}  // namespace porthole::model::stored
