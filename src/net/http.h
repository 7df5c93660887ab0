#pragma once
// Plain HTTP types shared by our server and client (no Beast here).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sigv4.h"
#include "common/result.h"

namespace porthole::net {

using HttpRequest = auth::HttpRequest;

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> Header(std::string_view name) const;
};

// https://host:port/path?query, as given to --endpoint-url or in a streamUrl.
struct Url {
  std::string scheme;  // "https" or "wss" (also "http"/"ws" when parsing, callers decide)
  std::string host;    // without brackets
  uint16_t port = 0;
  std::string target;  // path + query, at least "/"
  // "host:port" as it goes into the Host header (port always included, as the AWS CLI does).
  std::string HostHeader() const;
};
Result<Url> ParseUrl(std::string_view text);

}  // namespace porthole::net
