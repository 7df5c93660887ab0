#include "api/query_protocol.h"

#include <ctime>

#include "common/ids.h"

namespace porthole::api {

std::string UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<QueryParams> ParseQuery(std::string_view body) {
  QueryParams params;
  if (body.size() > 1024 * 1024) return MakeError("MalformedQueryString", "The request body is too large.");
  size_t pos = 0;
  while (pos < body.size()) {
    size_t amp = body.find('&', pos);
    std::string_view part = body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string key = UrlDecode(part.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : UrlDecode(part.substr(eq + 1));
      if (key.empty()) return MakeError("MalformedQueryString", "A parameter has an empty name.");
      params[key] = value;
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return params;
}

std::vector<std::string> MemberList(const QueryParams& params, const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 1;; i++) {
    auto it = params.find(prefix + ".member." + std::to_string(i));
    if (it == params.end()) break;
    out.push_back(it->second);
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string XmlElement(std::string_view tag, std::string_view text) {
  return "<" + std::string(tag) + ">" + XmlEscape(text) + "</" + std::string(tag) + ">";
}

net::HttpResponse QueryResponse(std::string_view action, std::string_view xml_namespace, std::string_view result_xml) {
  net::HttpResponse r;
  r.headers.emplace_back("Content-Type", "text/xml");
  std::string a(action);
  r.body = "<" + a + "Response xmlns=\"" + std::string(xml_namespace) + "\"><" + a + "Result>" +
           std::string(result_xml) + "</" + a + "Result><ResponseMetadata>" + XmlElement("RequestId", ids::NewUuid()) +
           "</ResponseMetadata></" + a + "Response>";
  return r;
}

net::HttpResponse QueryErrorResponse(std::string_view xml_namespace, const Error& error) {
  net::HttpResponse r;
  r.status = error.http_status > 0 ? error.http_status : 400;
  r.headers.emplace_back("Content-Type", "text/xml");
  r.body = "<ErrorResponse xmlns=\"" + std::string(xml_namespace) + "\"><Error>" +
           XmlElement("Type", r.status >= 500 ? "Receiver" : "Sender") + XmlElement("Code", error.code) +
           XmlElement("Message", error.message) + "</Error>" + XmlElement("RequestId", ids::NewUuid()) +
           "</ErrorResponse>";
  return r;
}

std::string IsoTime(double epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace porthole::api
