#include "net/http.h"

#include <strings.h>

#include <charconv>

namespace porthole::net {

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return std::nullopt;
}

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

namespace {
// A host is what it is written with in a URL and sent in a Host header:
// RFC 3986 reg-name or IPv4 characters (no percent-encoding), or for an
// IPv6 literal its hex digits, colons and dots. Nothing else gets as far as
// our own request lines and headers (a CR or LF there would forge them).
bool RegNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
bool Ipv6LiteralChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}
// Bytes a request target cannot carry as they are: controls, space, DEL, '#'.
bool TargetChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '#';
}
}  // namespace

Result<Url> ParseUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError("InvalidParameterException", "Invalid URL '" + std::string(text) + "': " + std::string(why));
  };
  Url url;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad("missing scheme");
  url.scheme = std::string(text.substr(0, scheme_end));
  for (char& c : url.scheme) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  uint16_t default_port;
  if (url.scheme == "https" || url.scheme == "wss") default_port = 443;
  else if (url.scheme == "http" || url.scheme == "ws") default_port = 80;
  else return bad("scheme must be https or wss");
  std::string_view rest = text.substr(scheme_end + 3);
  size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  url.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (!url.target.empty() && url.target[0] == '?') url.target = "/" + url.target;
  if (authority.empty()) return bad("missing host");
  if (authority.find('@') != std::string_view::npos) return bad("user information is not supported");
  std::string_view port_text;
  if (authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    url.host = std::string(authority.substr(1, close - 1));
    if (url.host.find(':') == std::string::npos) return bad("an IPv6 literal needs a colon");
    for (char c : url.host)
      if (!Ipv6LiteralChar(c)) return bad("an IPv6 literal has only hex digits, ':' and '.'");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after IPv6 literal");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      url.host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
    } else {
      url.host = std::string(authority);
    }
    for (char c : url.host)
      if (!RegNameChar(c)) return bad("a host has only letters, digits, '-', '.', '_' and '~'");
  }
  if (url.host.empty()) return bad("missing host");
  for (char c : url.target)
    if (!TargetChar(c)) return bad("the path has a space, a control character or '#'");
  url.port = default_port;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535)
      return bad("invalid port");
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

}  // namespace porthole::net
