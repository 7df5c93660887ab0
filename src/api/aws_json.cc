#include "api/aws_json.h"

#include <chrono>
#include <cstdint>

namespace porthole::api {

net::HttpResponse JsonResponse(const Json& body) {
  net::HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

net::HttpResponse ErrorResponse(const Error& error) {
  net::HttpResponse r;
  r.status = error.http_status > 0 ? error.http_status : 400;
  r.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  r.headers.emplace_back("x-amzn-ErrorType", error.code);
  r.body = Json{{"__type", error.code}, {"message", error.message}}.dump(-1, ' ', false,
                                                                          Json::error_handler_t::replace);
  return r;
}

namespace {
Error WrongType(const char* member, const char* expected) {
  return MakeError("SerializationException",
                   std::string("Member '") + member + "' must be " + expected + ".");
}
}  // namespace

Result<std::optional<std::string>> OptionalString(const Json& input, const char* member) {
  auto it = input.find(member);
  if (it == input.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return WrongType(member, "a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> RequiredString(const Json& input, const char* member) {
  auto v = OptionalString(input, member);
  if (!v) return v.error();
  if (!v->has_value() || (*v)->empty())
    return MakeError("InvalidParameterException", std::string(member) + " can not be blank.");
  return **v;
}

Result<std::optional<bool>> OptionalBool(const Json& input, const char* member) {
  auto it = input.find(member);
  if (it == input.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return WrongType(member, "a boolean");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<int64_t>> OptionalInt(const Json& input, const char* member) {
  auto it = input.find(member);
  if (it == input.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return WrongType(member, "an integer");
  // JSON integers above INT64_MAX parse as unsigned; get<int64_t>() would wrap
  // them to negative values (18446744073709551615 read as -1).
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return WrongType(member, "an integer between -9223372036854775808 and 9223372036854775807");
  return std::optional<int64_t>(it->get<int64_t>());
}

Result<std::vector<std::string>> StringList(const Json& input, const char* member) {
  std::vector<std::string> out;
  auto it = input.find(member);
  if (it == input.end() || it->is_null()) return out;
  if (!it->is_array()) return WrongType(member, "a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) return WrongType(member, "a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string StringOr(const Json& object, const char* member, const std::string& fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(member);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

Status ExpectType(const Json& input, const char* member, Json::value_t type) {
  auto it = input.find(member);
  if (it == input.end() || it->is_null()) return OkStatus();
  if (it->type() != type) return WrongType(member, type == Json::value_t::array ? "a list" : "a structure");
  return OkStatus();
}

double EpochSeconds() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) / 1000.0;
}

Result<Json> ParseTags(const Json& input, const char* member) {
  Json tags = Json::array();
  auto it = input.find(member);
  if (it == input.end() || it->is_null()) return tags;
  if (!it->is_array()) return WrongType(member, "a list of tags");
  if (it->size() > 50) return MakeError("InvalidParameterException", "Too many tags: at most 50 are allowed.");
  for (const auto& t : *it) {
    if (!t.is_object() || !t.contains("key") || !t["key"].is_string())
      return MakeError("InvalidParameterException", "Each tag must have a string key.");
    if (t.contains("value") && !t["value"].is_string())
      return MakeError("InvalidParameterException", "Each tag value must be a string.");
    std::string key = t["key"];
    std::string value = t.value("value", "");
    if (key.empty() || key.size() > 128)
      return MakeError("InvalidParameterException", "Tag keys must be 1 to 128 characters long.");
    if (value.size() > 256) return MakeError("InvalidParameterException", "Tag values must be at most 256 characters long.");
    tags.push_back({{"key", key}, {"value", value}});
  }
  return tags;
}

}  // namespace porthole::api
