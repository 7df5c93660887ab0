#pragma once
// AWS JSON 1.1 plumbing: responses, errors in AWS's shape, typed access to
// request members with errors that name the member.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "net/http.h"

namespace porthole::api {

using Json = nlohmann::json;

net::HttpResponse JsonResponse(const Json& body);
// {"__type": code, "message": message} with the error's HTTP status.
net::HttpResponse ErrorResponse(const Error& error);

// Request members. A member of the wrong JSON type is an error
// (SerializationException, as AWS answers); absent optional members are nullopt.
Result<std::optional<std::string>> OptionalString(const Json& input, const char* member);
Result<std::string> RequiredString(const Json& input, const char* member);
Result<std::optional<bool>> OptionalBool(const Json& input, const char* member);
Result<std::optional<int64_t>> OptionalInt(const Json& input, const char* member);
Result<std::vector<std::string>> StringList(const Json& input, const char* member);  // absent: empty
// A string member of input the control plane does not fully trust (node
// reports): its value, or `fallback` when absent or not a string. Never throws.
std::string StringOr(const Json& object, const char* member, const std::string& fallback = "");

// Member must be an object or array when present.
Status ExpectType(const Json& input, const char* member, Json::value_t type);

// Seconds since the epoch as AWS JSON timestamps are sent (a number).
double EpochSeconds();

// ECS tags: [{"key": "...", "value": "..."}], validated (1-128 char keys, <= 256 char values, <= 50 tags).
Result<Json> ParseTags(const Json& input, const char* member);

}  // namespace porthole::api
