#pragma once
// What the IAM and STS handlers share: query-parameter access and IAM's
// name rules, with IAM's error shapes.
#include <string>

#include <nlohmann/json.hpp>

#include "api/query_protocol.h"
#include "common/crypto.h"
#include "common/result.h"

namespace porthole::api::iam {

inline Error NoSuchEntity(const std::string& what) { return MakeError("NoSuchEntity", what, 404); }

inline Result<std::string> Param(const QueryParams& p, const char* name) {
  auto it = p.find(name);
  if (it == p.end() || it->second.empty())
    return MakeError("ValidationError", std::string("1 validation error detected: Value null at '") + name +
                                            "' failed to satisfy constraint: Member must not be null");
  return it->second;
}

inline Status ValidName(const std::string& name, const char* what, size_t max) {
  if (name.empty() || name.size() > max)
    return MakeError("ValidationError", std::string(what) + " must be 1 to " + std::to_string(max) + " characters.");
  for (char c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && std::string_view("+=,.@_-").find(c) == std::string_view::npos)
      return MakeError("ValidationError", std::string(what) + " '" + name + "' contains characters IAM does not allow.");
  return OkStatus();
}

inline std::string RandomId(std::string_view prefix) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string id(prefix);
  for (unsigned char c : crypto::RandomBytes(16)) id.push_back(kAlphabet[c % 32]);
  return id;
}

// Tags.member.N.Key / .Value as IAM takes them: [{"Key","Value"}].
inline Result<nlohmann::json> ParseTagParams(const QueryParams& params) {
  nlohmann::json tags = nlohmann::json::array();
  for (int i = 1;; i++) {
    std::string base = "Tags.member." + std::to_string(i);
    auto key = params.find(base + ".Key");
    if (key == params.end()) break;
    auto value = params.find(base + ".Value");
    if (key->second.empty() || key->second.size() > 128)
      return MakeError("ValidationError", "Tag keys must be 1 to 128 characters.");
    tags.push_back({{"Key", key->second}, {"Value", value == params.end() ? "" : value->second}});
    if (tags.size() > 50) return MakeError("LimitExceeded", "A user can have at most 50 tags.", 409);
  }
  return tags;
}

}  // namespace porthole::api::iam
