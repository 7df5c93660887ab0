// Fuzzes the query-protocol decoders (api/query_protocol.h), as IAM and STS
// requests reach them: the input is a form-encoded request body.
//
// Properties, beyond "no crash, no throw":
//  * ParseQuery fails only with MalformedQueryString, and what it returns has
//    non-empty names and survives re-encoding: encoding every pair with
//    UrlEncode and parsing again gives the same parameters;
//  * UrlDecode(UrlEncode(s)) == s, and UrlEncode leaves only unreserved
//    characters and %XX;
//  * MemberList returns the consecutive "P.member.N" values from 1;
//  * XmlEscape leaves no markup character: every '&' starts an entity, and no
//    '<', '>', '"' or '\'' remains; the XML answers embed text only escaped.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/query_protocol.h"
#include "fuzz_support.h"

namespace porthole::api {
namespace {

bool Unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~';
}

void CheckEncoded(std::string_view encoded) {
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%') {
      FUZZ_CHECK(i + 2 < encoded.size());
      FUZZ_CHECK(std::isxdigit(static_cast<unsigned char>(encoded[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(encoded[i + 2])));
      i += 2;
    } else {
      FUZZ_CHECK(Unreserved(encoded[i]));
    }
  }
}

void CheckEscaped(std::string_view escaped) {
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    FUZZ_CHECK(c != '<' && c != '>' && c != '"' && c != '\'');
    if (c != '&') continue;
    const std::string_view rest = escaped.substr(i);
    bool entity = false;
    for (std::string_view e : {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"}) entity = entity || rest.rfind(e, 0) == 0;
    FUZZ_CHECK(entity);
  }
}

}  // namespace
}  // namespace porthole::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::api;
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  const std::string encoded = UrlEncode(body);
  CheckEncoded(encoded);
  FUZZ_CHECK(UrlDecode(encoded) == body);

  const std::string escaped = XmlEscape(body);
  CheckEscaped(escaped);
  const std::string element = XmlElement("Message", body);
  FUZZ_CHECK(element == "<Message>" + escaped + "</Message>");
  const porthole::net::HttpResponse error =
      QueryErrorResponse("https://iam.amazonaws.com/doc/2010-05-08/", porthole::MakeError("Code", std::string(body)));
  FUZZ_CHECK(error.body.find(element) != std::string::npos);

  porthole::Result<QueryParams> params = ParseQuery(body);
  if (!params.ok()) {
    FUZZ_CHECK(params.error().code == "MalformedQueryString");
    return 0;
  }
  std::string reencoded;
  for (const auto& [key, value] : *params) {
    FUZZ_CHECK(!key.empty());
    if (!reencoded.empty()) reencoded += '&';
    reencoded += UrlEncode(key) + "=" + UrlEncode(value);
  }
  if (reencoded.size() > 1024 * 1024) return 0;  // over ParseQuery's limit: only a huge input gets here
  porthole::Result<QueryParams> again = ParseQuery(reencoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK_MSG(*again == *params, reencoded);

  // The prefix of the first member-list-looking name, if any: "P.member.N".
  std::string prefix = "Action";
  for (const auto& [key, value] : *params) {
    if (size_t at = key.find(".member."); at != std::string::npos) {
      prefix = key.substr(0, at);
      break;
    }
  }
  const std::vector<std::string> members = MemberList(*params, prefix);
  for (size_t i = 0; i < members.size(); ++i) {
    auto it = params->find(prefix + ".member." + std::to_string(i + 1));
    FUZZ_CHECK(it != params->end() && it->second == members[i]);
  }
  FUZZ_CHECK(params->count(prefix + ".member." + std::to_string(members.size() + 1)) == 0);
  return 0;
}
