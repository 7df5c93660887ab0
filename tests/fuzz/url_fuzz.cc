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
//  * the host and target have no byte that could forge a request line or
//    header (controls, space), and rebuilding the URL from scheme,
//    HostHeader() and target parses to the same URL.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "net/http.h"

namespace porthole::net {
namespace {

bool ForgesHeaders(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  return false;
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

  FUZZ_CHECK_MSG(!ForgesHeaders(url->host), url->host);
  FUZZ_CHECK_MSG(!ForgesHeaders(url->target), url->target);
  const std::string rebuilt = scheme + "://" + url->HostHeader() + url->target;
  porthole::Result<Url> again = ParseUrl(rebuilt);
  FUZZ_CHECK_MSG(again.ok(), rebuilt);
  FUZZ_CHECK_MSG(again->scheme == scheme && again->host == url->host && again->port == url->port &&
                     again->target == url->target,
                 rebuilt);
  return 0;
}
