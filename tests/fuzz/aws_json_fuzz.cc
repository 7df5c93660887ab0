// Fuzzes the AWS JSON 1.1 request decoders (api/aws_json.h) with the input
// as a request body, parsed as ControlPlane::Handle parses it. Each typed
// accessor is asked for every member the body has and for a few fixed names.
//
// Properties, beyond "no crash, no throw":
//  * each accessor succeeds exactly when the member is absent, null or of its
//    type, returns the member's value then, and otherwise answers
//    SerializationException (RequiredString: InvalidParameterException when
//    blank) — for integers, the value is the JSON number itself, never a
//    wrapped one;
//  * ParseTags yields at most 50 {"key", "value"} string pairs within the
//    documented lengths;
//  * JsonResponse(body) is the body, re-parsed equal; ErrorResponse of any
//    bytes is a JSON object with "__type" and "message".
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "api/aws_json.h"
#include "fuzz_support.h"

namespace porthole::api {
namespace {

bool Absent(const Json& input, const std::string& member) {
  auto it = input.find(member);
  return it == input.end() || it->is_null();
}

void CheckWrongType(const Error& e) {
  FUZZ_CHECK_MSG(e.code == "SerializationException", e.code);
  FUZZ_CHECK(e.http_status == 400);
}

void CheckMember(const Json& input, const std::string& member) {
  const char* name = member.c_str();
  // A name with a NUL byte is looked up only up to it, as callers pass C strings.
  const std::string looked_up(name);
  const bool absent = Absent(input, looked_up);
  const Json* value = absent ? nullptr : &input.at(looked_up);

  Result<std::optional<std::string>> s = OptionalString(input, name);
  if (absent || value->is_string()) {
    FUZZ_CHECK(s.ok());
    FUZZ_CHECK(s->has_value() == !absent);
    if (!absent) FUZZ_CHECK(**s == value->get<std::string>());
  } else {
    FUZZ_CHECK(!s.ok());
    CheckWrongType(s.error());
  }

  Result<std::string> r = RequiredString(input, name);
  if (!absent && value->is_string() && !value->get<std::string>().empty()) {
    FUZZ_CHECK(r.ok() && *r == value->get<std::string>());
  } else {
    FUZZ_CHECK(!r.ok());
    FUZZ_CHECK(r.error().code == (s.ok() ? "InvalidParameterException" : "SerializationException"));
  }

  Result<std::optional<bool>> b = OptionalBool(input, name);
  if (absent || value->is_boolean()) {
    FUZZ_CHECK(b.ok() && b->has_value() == !absent);
    if (!absent) FUZZ_CHECK(**b == value->get<bool>());
  } else {
    FUZZ_CHECK(!b.ok());
    CheckWrongType(b.error());
  }

  Result<std::optional<int64_t>> i = OptionalInt(input, name);
  const bool fits_int64 =
      !absent && value->is_number_integer() &&
      (!value->is_number_unsigned() ||
       value->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  if (absent || fits_int64) {
    FUZZ_CHECK(i.ok() && i->has_value() == !absent);
    if (!absent && value->is_number_unsigned()) {
      FUZZ_CHECK_MSG(**i >= 0 && static_cast<uint64_t>(**i) == value->get<uint64_t>(), value->dump());
    } else if (!absent) {
      FUZZ_CHECK(**i == value->get<int64_t>());
    }
  } else {
    FUZZ_CHECK_MSG(!i.ok(), value->dump());
    CheckWrongType(i.error());
  }

  Result<std::vector<std::string>> list = StringList(input, name);
  bool strings = !absent && value->is_array();
  if (strings) {
    for (const Json& e : *value) strings = strings && e.is_string();
  }
  if (absent || strings) {
    FUZZ_CHECK(list.ok());
    FUZZ_CHECK(list->size() == (absent ? 0 : value->size()));
    for (size_t k = 0; k < list->size(); ++k) FUZZ_CHECK((*list)[k] == (*value)[k].get<std::string>());
  } else {
    FUZZ_CHECK(!list.ok());
    CheckWrongType(list.error());
  }

  const std::string fallback = "\x01" "fallback";
  const std::string or_value = StringOr(input, name, fallback);
  auto it = input.find(looked_up);
  FUZZ_CHECK(or_value == (it != input.end() && it->is_string() ? it->get<std::string>() : fallback));

  for (Json::value_t type : {Json::value_t::array, Json::value_t::object}) {
    Status t = ExpectType(input, name, type);
    FUZZ_CHECK(t.ok() == (absent || value->type() == type));
    if (!t.ok()) CheckWrongType(t.error());
  }

  Result<Json> tags = ParseTags(input, name);
  if (tags.ok()) {
    FUZZ_CHECK(absent || value->is_array());
    FUZZ_CHECK(tags->is_array() && tags->size() <= 50);
    FUZZ_CHECK(tags->size() == (absent ? 0 : value->size()));
    for (const Json& tag : *tags) {
      FUZZ_CHECK(tag.is_object() && tag.size() == 2);
      FUZZ_CHECK(tag["key"].is_string() && tag["value"].is_string());
      const size_t key_size = tag["key"].get_ref<const std::string&>().size();
      FUZZ_CHECK(key_size >= 1 && key_size <= 128);
      FUZZ_CHECK(tag["value"].get_ref<const std::string&>().size() <= 256);
    }
    JsonResponse(*tags);
  } else {
    FUZZ_CHECK(!absent);
    FUZZ_CHECK(tags.error().code == "SerializationException" || tags.error().code == "InvalidParameterException");
  }
}

}  // namespace
}  // namespace porthole::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::api;
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  // Errors carry peer-chosen text (e.g. a name from the request): never a throw.
  const porthole::net::HttpResponse error = ErrorResponse(porthole::MakeError(std::string(body), std::string(body)));
  const Json error_body = Json::parse(error.body, nullptr, false);
  FUZZ_CHECK(error_body.is_object() && error_body["__type"].is_string() && error_body["message"].is_string());

  const Json input = Json::parse(body.begin(), body.end(), nullptr, false);
  if (input.is_discarded()) return 0;
  const porthole::net::HttpResponse echoed = JsonResponse(input);
  FUZZ_CHECK(echoed.status == 200);
  FUZZ_CHECK_MSG(Json::parse(echoed.body, nullptr, false) == input, echoed.body);
  if (!input.is_object()) {
    FUZZ_CHECK(StringOr(input, "cluster", "x") == "x");
    return 0;
  }
  for (const auto& [member, value] : input.items()) CheckMember(input, member);
  for (const char* member : {"cluster", "tags", "count", "enableExecuteCommand", "taskDefinition"}) {
    CheckMember(input, member);
  }
  return 0;
}
