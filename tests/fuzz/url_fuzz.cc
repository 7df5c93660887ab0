// Fuzzes net::ParseUrl (net/http.h), the one parser of ours there: it reads
// --endpoint-url, the endpoint in node and agent configuration, and the
// streamUrl of an ExecuteCommand answer. (HTTP requests themselves are
// parsed by Beast, not by us.)
//
// Properties, beyond "no crash, no throw":
//  * an error is InvalidParameterException;
//  * a parsed URL has a known scheme (lowercased), a non-empty host, a port
//    in 1..65535 (the scheme's default when none is given) and a target
//    starting with '/';
//  * for a host of URL host characters, rebuilding the URL from scheme,
//    HostHeader() and target parses to the same URL.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "net/http.h"

namespace porthole::net {
namespace {

// RFC 3986 reg-name and IP-literal characters, without percent-encoding.
bool HostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~!$&'()*+,;=:").find(c) != std::string_view::npos;
}

}  // namespace
}  // namespace porthole::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::net;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  porthole::Result<Url> url = ParseUrl(text);
  if (!url.ok()) {
    FUZZ_CHECK(url.error().code == "InvalidParameterException");
    return 0;
  }
  const std::string& scheme = url->scheme;
  FUZZ_CHECK_MSG(scheme == "https" || scheme == "wss" || scheme == "http" || scheme == "ws", scheme);
  FUZZ_CHECK(!url->host.empty());
  FUZZ_CHECK(url->port >= 1);
  FUZZ_CHECK(!url->target.empty() && url->target[0] == '/');

  bool plain_host = true;
  for (char c : url->host) plain_host = plain_host && HostChar(c);
  if (!plain_host) return 0;
  const std::string rebuilt = scheme + "://" + url->HostHeader() + url->target;
  porthole::Result<Url> again = ParseUrl(rebuilt);
  FUZZ_CHECK_MSG(again.ok(), rebuilt);
  FUZZ_CHECK_MSG(again->scheme == scheme && again->host == url->host && again->port == url->port &&
                     again->target == url->target,
                 rebuilt);
  return 0;
}
