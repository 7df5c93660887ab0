#pragma once
// AWS's query protocol, as IAM and STS speak it: form-encoded POST bodies
// ("Action=CreateUser&Version=2010-05-08&UserName=alice") and XML answers,
// errors as <ErrorResponse><Error><Type/><Code/><Message/></Error>...
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/http.h"

namespace porthole::api {

using QueryParams = std::map<std::string, std::string>;

// Parses application/x-www-form-urlencoded. Errors: "MalformedQueryString".
Result<QueryParams> ParseQuery(std::string_view body);
std::string UrlDecode(std::string_view text);
std::string UrlEncode(std::string_view text);  // RFC 3986 unreserved kept

// "Prefix.member.1", "Prefix.member.2", ... until the first gap.
std::vector<std::string> MemberList(const QueryParams& params, const std::string& prefix);

std::string XmlEscape(std::string_view text);

// <Tag>escaped text</Tag>
std::string XmlElement(std::string_view tag, std::string_view text);

// <ActionResponse xmlns=ns><ActionResult>result_xml</ActionResult><ResponseMetadata>...</ResponseMetadata></ActionResponse>
net::HttpResponse QueryResponse(std::string_view action, std::string_view xml_namespace, std::string_view result_xml);
net::HttpResponse QueryErrorResponse(std::string_view xml_namespace, const Error& error);

// ISO 8601 UTC with seconds, as IAM dates are written.
std::string IsoTime(double epoch_seconds);

}  // namespace porthole::api
