#include "auth/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <set>

#include "common/crypto.h"

namespace porthole::auth {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kScopeTerminator = "aws4_request";

constexpr std::int64_t kMaxSkewSeconds = 5 * 60;
constexpr std::int64_t kMaxPresignExpiresSeconds = 604800;  // 7 days, AWS's ceiling

// Size limits on what the verifier parses. Beast already bounds the header
// block; these keep the verifier safe on its own.
constexpr size_t kMaxAuthorizationBytes = 4096;
constexpr size_t kMaxTargetBytes = 16384;
constexpr size_t kMaxSignedHeaders = 64;
constexpr size_t kMaxQueryParams = 256;

// Error types and texts the AWS JSON API answers with. AWS's wording where AWS
// has one; the cause is named, secrets and signatures never are.
constexpr std::string_view kMissingToken = "MissingAuthenticationTokenException";
constexpr std::string_view kIncomplete = "IncompleteSignatureException";
constexpr std::string_view kUnrecognizedClient = "UnrecognizedClientException";
constexpr std::string_view kInvalidSignature = "InvalidSignatureException";

constexpr std::string_view kMissingTokenMessage = "Missing Authentication Token";
constexpr std::string_view kUnrecognizedClientMessage = "The security token included in the request is invalid.";
constexpr std::string_view kSignatureMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kPresignNotAcceptedMessage = "Presigned requests are not accepted for this operation.";

// Headers with this prefix must all be signed (see CheckAmzHeadersSigned). Note that
// "x-amzn-" (x-amzn-trace-id, which the SDKs leave unsigned) does not have it.
constexpr std::string_view kAmzHeaderPrefix = "x-amz-";

Error Incomplete(std::string message) { return MakeError(std::string(kIncomplete), std::move(message), 400); }
Error InvalidSignature(std::string message) {
  return MakeError(std::string(kInvalidSignature), std::move(message), 403);
}
Error SignatureMismatch() { return InvalidSignature(std::string(kSignatureMismatchMessage)); }

// ---- character classes and encoding -------------------------------------------------------

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// aws-c-auth trims and squashes with isspace() in the C locale.
bool IsSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

// Percent-encodes every byte except the unreserved set (and '/', when kept).
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


// ---- request target ------------------------------------------------------------------------

struct QueryParam {
  std::string key;    // decoded
  std::string value;  // decoded
};

struct SplitTarget {
  std::string_view path;
  std::string_view query;  // without '?'
};

SplitTarget Split(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

// Splits on '&' and the first '='; empty pieces ("a&&b") are skipped.
std::vector<QueryParam> ParseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      params.push_back({UriDecode(piece), std::string()});
    } else {
      params.push_back({UriDecode(piece.substr(0, eq)), UriDecode(piece.substr(eq + 1))});
    }
  }
  return params;
}

// Removes "." segments and empty segments (duplicate slashes), resolves "..",
// keeps a trailing slash. Always starts with '/'.
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  const bool trailing_slash = !path.empty() && path.back() == '/';
  std::string out = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    out.append(segments[i]);
    if (i + 1 < segments.size() || trailing_slash) out.push_back('/');
  }
  return out;
}

std::string CanonicalUri(std::string_view path, PathNormalization normalization) {
  if (path.empty()) return "/";
  if (normalization == PathNormalization::kNormalize) return UriEncode(NormalizePath(path), true);
  return UriEncode(path, true);
}

std::string CanonicalQuery(const std::vector<QueryParam>& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const QueryParam& p : params) encoded.emplace_back(UriEncode(p.key, false), UriEncode(p.value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

// Trims, and squashes every run of whitespace (including the line breaks of a
// folded multi-line value) to one space.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (unsigned char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

// Lowercased, sorted, duplicates removed.
std::vector<std::string> NormalizeSignedHeaders(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const std::string& n : names) out.push_back(Lowercase(n));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string JoinSignedHeaders(const std::vector<std::string>& sorted_names) {
  std::string out;
  for (const std::string& n : sorted_names) {
    if (!out.empty()) out.push_back(';');
    out.append(n);
  }
  return out;
}

std::string BuildCanonicalRequest(std::string_view method, std::string_view path, const std::vector<QueryParam>& params,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::vector<std::string>& signed_headers, std::string_view payload_hash_hex,
                                  PathNormalization normalization) {
  const std::vector<std::string> names = NormalizeSignedHeaders(signed_headers);
  std::string out;
  out.append(method).push_back('\n');
  out.append(CanonicalUri(path, normalization)).push_back('\n');
  out.append(CanonicalQuery(params)).push_back('\n');
  for (const std::string& name : names) {
    out.append(name).push_back(':');
    bool first = true;
    for (const auto& [header_name, header_value] : headers) {
      if (!EqualsIgnoreCase(header_name, name)) continue;
      if (!first) out.push_back(',');
      out.append(CanonicalHeaderValue(header_value));
      first = false;
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  out.append(JoinSignedHeaders(names)).push_back('\n');
  out.append(payload_hash_hex);
  return out;
}

std::string Scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string out;
  out.append(date).append("/").append(region).append("/").append(service).append("/").append(kScopeTerminator);
  return out;
}

std::string SignatureHex(std::string_view secret, std::string_view amz_date, std::string_view region,
                         std::string_view service, std::string_view canonical_request) {
  const std::string scope = Scope(amz_date.substr(0, 8), region, service);
  const std::string key = DeriveSigningKey(secret, amz_date.substr(0, 8), region, service);
  return crypto::HexEncode(crypto::HmacSha256(key, StringToSign(amz_date, scope, canonical_request)));
}

void RemoveHeaders(HttpRequest& request, std::initializer_list<std::string_view> names) {
  auto& headers = request.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) {
                                 for (std::string_view n : names) {
                                   if (EqualsIgnoreCase(h.first, n)) return true;
                                 }
                                 return false;
                               }),
                headers.end());
}

std::vector<std::string> AllHeaderNames(const HttpRequest& request) {
  std::vector<std::string> names;
  names.reserve(request.headers.size());
  for (const auto& h : request.headers) names.push_back(h.first);
  return NormalizeSignedHeaders(names);
}

size_t CountHeaders(const HttpRequest& request, std::string_view name) {
  return static_cast<size_t>(std::count_if(request.headers.begin(), request.headers.end(),
                                           [&](const auto& h) { return EqualsIgnoreCase(h.first, name); }));
}

// ---- dates ---------------------------------------------------------------------------------

bool ParseDigits(std::string_view s, int& out) {
  if (s.empty()) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// Builds a time_t from UTC fields, rejecting out-of-range fields (Feb 30, 24:00, leap seconds).
std::optional<std::time_t> FromUtcFields(int year, int month, int day, int hour, int minute, int second) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  std::tm check{};
  if (t == static_cast<std::time_t>(-1) || gmtime_r(&t, &check) == nullptr || check.tm_mday != day ||
      check.tm_mon != month - 1) {
    return std::nullopt;
  }
  return t;
}

// IMF-fixdate, the only HTTP date format a signer produces: "Sun, 30 Aug 2015 12:36:00 GMT".
std::optional<std::time_t> ParseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT") {
    return std::nullopt;
  }
  int day, year, hour, minute, second;
  if (!ParseDigits(s.substr(5, 2), day) || !ParseDigits(s.substr(12, 4), year) || !ParseDigits(s.substr(17, 2), hour) ||
      !ParseDigits(s.substr(20, 2), minute) || !ParseDigits(s.substr(23, 2), second)) {
    return std::nullopt;
  }
  int month = 0;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  if (month == 0) return std::nullopt;
  return FromUtcFields(year, month, day, hour, minute, second);
}

// ---- verification --------------------------------------------------------------------------

// What either form (Authorization header or presigned query) yields once parsed.
struct ParsedAuth {
  std::string access_key_id;
  std::string scope_date;
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // as listed, lowercase
  std::string signature;
  std::string amz_date;  // ISO 8601 basic form used in the string to sign
  std::time_t time = 0;
};

// "AKID/20150830/us-east-1/service/aws4_request"
Status ParseCredential(std::string_view credential, ParsedAuth& auth) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = credential.find('/', start);
    parts.push_back(credential.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 5 || std::any_of(parts.begin(), parts.end(), [](auto p) { return p.empty(); })) {
    return Incomplete(
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
        std::string(credential) + "'");
  }
  if (parts[4] != kScopeTerminator) {
    return InvalidSignature("Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                            std::string(parts[4]) + "'.");
  }
  auth.access_key_id = std::string(parts[0]);
  auth.scope_date = std::string(parts[1]);
  auth.region = std::string(parts[2]);
  auth.service = std::string(parts[3]);
  return OkStatus();
}

bool IsHeaderNameChar(char c) {
  // RFC 9110 token characters, lowercase only.
  static constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || kPunctuation.find(c) != std::string_view::npos;
}

Status ParseSignedHeaders(std::string_view list, ParsedAuth& auth) {
  std::set<std::string_view> seen;
  size_t start = 0;
  while (true) {
    size_t semi = list.find(';', start);
    std::string_view name = list.substr(start, semi == std::string_view::npos ? semi : semi - start);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsHeaderNameChar)) {
      return Incomplete("SignedHeaders must be a ';'-separated list of lowercase header names.");
    }
    if (!seen.insert(name).second) return Incomplete("SignedHeaders lists '" + std::string(name) + "' twice.");
    if (seen.size() > kMaxSignedHeaders) {
      return Incomplete("SignedHeaders lists more than " + std::to_string(kMaxSignedHeaders) + " headers.");
    }
    auth.signed_headers.emplace_back(name);
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  return OkStatus();
}

bool IsSigned(const ParsedAuth& auth, std::string_view lowercase_name) {
  return std::find(auth.signed_headers.begin(), auth.signed_headers.end(), lowercase_name) != auth.signed_headers.end();
}

// Every x-amz-* header present must be in SignedHeaders. Otherwise a header that steers
// the request could be added or replaced after signing without breaking the signature:
// X-Amz-Target selects the operation, so an unsigned one would let anyone holding a
// captured signature for one call run another. AWS's S3 refuses the same requests
// ("There were headers present in the request which were not signed"); botocore signs
// every x-amz-* header it sends, so real clients are unaffected. Applies to both forms:
// a presigned request's parameters are in the signed query, its headers are not.
Status CheckAmzHeadersSigned(const HttpRequest& request, const ParsedAuth& auth) {
  for (const auto& header : request.headers) {
    const std::string name = Lowercase(header.first);
    if (name.compare(0, kAmzHeaderPrefix.size(), kAmzHeaderPrefix) != 0 || IsSigned(auth, name)) continue;
    return Incomplete("The request signature does not cover the header '" + name +
                      "'; every x-amz-* header present must be signed.");
  }
  return OkStatus();
}

// Scope date, then the +/-5 minute window (or, presigned, the expiry).
Status CheckTime(const ParsedAuth& auth, std::time_t now, std::optional<std::int64_t> presign_expires) {
  const std::string date8 = auth.amz_date.substr(0, 8);
  if (auth.scope_date != date8) {
    return InvalidSignature(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '" +
        auth.scope_date + "' != '" + date8 + "', from '" + auth.amz_date + "'.");
  }
  const std::int64_t t = auth.time;
  const std::int64_t n = now;
  if (t > n + kMaxSkewSeconds) {
    return InvalidSignature("Signature not yet current: " + auth.amz_date + " is still later than " +
                            FormatAmzDate(static_cast<std::time_t>(n + kMaxSkewSeconds)) + " (" + FormatAmzDate(now) +
                            " + 5 min.)");
  }
  if (presign_expires) {
    if (n > t + *presign_expires) {
      return InvalidSignature("Signature expired: the presigned request was valid until " +
                              FormatAmzDate(static_cast<std::time_t>(t + *presign_expires)) + " (" + auth.amz_date +
                              " + " + std::to_string(*presign_expires) + " s); it is now " + FormatAmzDate(now) + ".");
    }
  } else if (t < n - kMaxSkewSeconds) {
    return InvalidSignature("Signature expired: " + auth.amz_date + " is now earlier than " +
                            FormatAmzDate(static_cast<std::time_t>(n - kMaxSkewSeconds)) + " (" + FormatAmzDate(now) +
                            " - 5 min.)");
  }
  return OkStatus();
}

// The payload hash that was signed: SHA-256 of the body. A signed
// x-amz-content-sha256 must state exactly that hash (so UNSIGNED-PAYLOAD and
// streaming payloads are refused).
Result<std::string> PayloadHash(const HttpRequest& request, const ParsedAuth& auth) {
  std::string body_hash = crypto::HexEncode(crypto::Sha256(request.body));
  if (CountHeaders(request, "x-amz-content-sha256") > 1) {
    return Incomplete("The request has more than one 'x-amz-content-sha256' header.");
  }
  if (IsSigned(auth, "x-amz-content-sha256")) {
    std::optional<std::string> stated = request.Header("x-amz-content-sha256");
    if (!stated || CanonicalHeaderValue(*stated) != body_hash) {
      return InvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
  }
  return body_hash;
}

// Shared tail of both forms: key lookup, recomputation, constant-time compare.
Result<VerifiedSignature> CheckSignature(const HttpRequest& request, const KeyLookup& lookup, const ParsedAuth& auth,
                                         std::string_view path, const std::vector<QueryParam>& signed_params,
                                         std::string session_token) {
  std::optional<KeyLookupResult> key;
  if (lookup) key = lookup(auth.access_key_id);
  if (!key) return MakeError(std::string(kUnrecognizedClient), std::string(kUnrecognizedClientMessage), 403);

  Result<std::string> payload_hash = PayloadHash(request, auth);
  if (!payload_hash.ok()) return payload_hash.error();

  // A header named in SignedHeaders but absent cannot have been signed as sent.
  for (const std::string& name : auth.signed_headers) {
    if (CountHeaders(request, name) == 0) return SignatureMismatch();
  }

  const std::string canonical =
      BuildCanonicalRequest(request.method, path, signed_params, request.headers, auth.signed_headers, *payload_hash,
                            PathNormalization::kNormalize);
  const std::string expected =
      SignatureHex(key->secret_access_key, auth.amz_date, auth.region, auth.service, canonical);
  if (!crypto::ConstantTimeEquals(expected, auth.signature)) return SignatureMismatch();

  return VerifiedSignature{auth.access_key_id, auth.region, auth.service, std::move(session_token)};
}

// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
Result<VerifiedSignature> VerifyHeaderAuth(const HttpRequest& request, const KeyLookup& lookup, std::time_t now,
                                           std::vector<QueryParam> params, std::string_view path) {
  if (CountHeaders(request, "authorization") > 1) {
    return Incomplete("The request has more than one Authorization header.");
  }
  const std::string authorization = *request.Header("authorization");
  if (authorization.size() > kMaxAuthorizationBytes) {
    return Incomplete("The Authorization header is longer than " + std::to_string(kMaxAuthorizationBytes) + " bytes.");
  }
  std::string_view rest = authorization;
  while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
  if (rest.substr(0, kAlgorithm.size()) != kAlgorithm ||
      (rest.size() > kAlgorithm.size() && !IsSpace(rest[kAlgorithm.size()]))) {
    return Incomplete("Authorization header must use the 'AWS4-HMAC-SHA256' algorithm.");
  }
  rest.remove_prefix(std::min(rest.size(), kAlgorithm.size()));

  std::optional<std::string_view> credential, signed_headers, signature;
  size_t index = 0;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    ++index;
    while (!part.empty() && IsSpace(part.front())) part.remove_prefix(1);
    while (!part.empty() && IsSpace(part.back())) part.remove_suffix(1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Incomplete("Authorization header component " + std::to_string(index) +
                        " is not a valid key=value pair (missing equal-sign).");
    }
    std::string_view key = part.substr(0, eq);
    std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                            : key == "SignedHeaders" ? &signed_headers
                                            : key == "Signature"     ? &signature
                                                                     : nullptr;
    if (slot == nullptr) return Incomplete("Authorization header has an unknown component '" + std::string(key) + "'.");
    if (slot->has_value()) return Incomplete("Authorization header repeats the '" + std::string(key) + "' component.");
    *slot = part.substr(eq + 1);
  }

  // Date: X-Amz-Date, else Date.
  const bool has_amz_date = CountHeaders(request, "x-amz-date") > 0;
  const bool has_date = CountHeaders(request, "date") > 0;

  std::string missing;
  if (!credential) missing += "Authorization header requires 'Credential' parameter. ";
  if (!signature) missing += "Authorization header requires 'Signature' parameter. ";
  if (!signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!has_amz_date && !has_date) {
    missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  if (!missing.empty()) {
    missing.pop_back();
    return Incomplete(std::move(missing));
  }

  ParsedAuth auth;
  if (Status s = ParseCredential(*credential, auth); !s.ok()) return s.error();
  if (Status s = ParseSignedHeaders(*signed_headers, auth); !s.ok()) return s.error();
  auth.signature = std::string(*signature);

  const std::string_view date_header = has_amz_date ? "x-amz-date" : "date";
  if (CountHeaders(request, date_header) > 1) {
    return Incomplete("The request has more than one '" + std::string(date_header) + "' header.");
  }
  const std::string date_value = CanonicalHeaderValue(*request.Header(date_header));
  std::optional<std::time_t> time = has_amz_date ? ParseAmzDate(date_value) : ParseHttpDate(date_value);
  if (!time) {
    return Incomplete(has_amz_date
                          ? "X-Amz-Date must be in ISO-8601 basic format (20150830T123600Z), got '" + date_value + "'."
                          : "Date must be an IMF-fixdate (Sun, 30 Aug 2015 12:36:00 GMT), got '" + date_value + "'.");
  }
  auth.time = *time;
  auth.amz_date = FormatAmzDate(*time);

  if (!IsSigned(auth, "host")) {
    return Incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (!IsSigned(auth, date_header)) {
    return Incomplete(std::string(has_amz_date ? "'X-Amz-Date'" : "'Date'") +
                      " must be a 'SignedHeader' in the AWS Authorization.");
  }
  std::string session_token;
  if (size_t n = CountHeaders(request, "x-amz-security-token"); n > 0) {
    if (n > 1) return Incomplete("The request has more than one 'X-Amz-Security-Token' header.");
    if (!IsSigned(auth, "x-amz-security-token")) {
      return Incomplete("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
    }
    session_token = *request.Header("x-amz-security-token");
  }
  if (Status s = CheckAmzHeadersSigned(request, auth); !s.ok()) return s.error();

  if (Status s = CheckTime(auth, now, std::nullopt); !s.ok()) return s.error();
  return CheckSignature(request, lookup, auth, path, params, std::move(session_token));
}

bool IsQueryAuthParam(std::string_view key) {
  return key == "X-Amz-Algorithm" || key == "X-Amz-Credential" || key == "X-Amz-Signature";
}

// Presigned: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature (and optionally X-Amz-Security-Token).
Result<VerifiedSignature> VerifyQueryAuth(const HttpRequest& request, const KeyLookup& lookup, std::time_t now,
                                          const VerifyOptions& options, std::vector<QueryParam> params,
                                          std::string_view path) {
  static constexpr std::string_view kRequired[] = {"X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
                                                   "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature"};
  std::optional<std::string> values[std::size(kRequired)];
  std::optional<std::string> token;
  for (const QueryParam& p : params) {
    for (size_t i = 0; i < std::size(kRequired); ++i) {
      if (p.key != kRequired[i]) continue;
      if (values[i]) return Incomplete("The query string repeats '" + std::string(kRequired[i]) + "'.");
      values[i] = p.value;
    }
    if (p.key == "X-Amz-Security-Token") {
      if (token) return Incomplete("The query string repeats 'X-Amz-Security-Token'.");
      token = p.value;
    }
  }
  std::string missing;
  for (size_t i = 0; i < std::size(kRequired); ++i) {
    if (!values[i]) missing += (missing.empty() ? "" : ", ") + std::string(kRequired[i]);
  }
  if (!missing.empty()) {
    return Incomplete(
        "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, "
        "X-Amz-SignedHeaders and X-Amz-Signature parameters; missing: " +
        missing + ".");
  }
  const std::string& algorithm = *values[0];
  const std::string& credential = *values[1];
  const std::string& date = *values[2];
  const std::string& expires = *values[3];
  const std::string& signed_headers = *values[4];
  const std::string& signature = *values[5];

  if (algorithm != kAlgorithm) return Incomplete("X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'.");
  ParsedAuth auth;
  if (Status s = ParseCredential(credential, auth); !s.ok()) return s.error();
  if (Status s = ParseSignedHeaders(signed_headers, auth); !s.ok()) return s.error();
  auth.signature = signature;

  std::optional<std::time_t> time = ParseAmzDate(date);
  if (!time) return Incomplete("X-Amz-Date must be in ISO-8601 basic format (20150830T123600Z), got '" + date + "'.");
  auth.time = *time;
  auth.amz_date = date;

  // X-Amz-Expires: decimal digits only, 1..604800, and at most the caller's maximum.
  const std::int64_t max_expires = std::min(options.max_presign_expires_seconds, kMaxPresignExpiresSeconds);
  std::string_view digits = expires;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  const bool numeric =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!numeric || digits == "0") return Incomplete("X-Amz-Expires must be a whole number of seconds, at least 1.");
  // More than 7 significant digits is more than a week: refused unparsed, so the parse cannot overflow.
  int expires_seconds = 0;
  if (digits.size() > 7 || (ParseDigits(digits, expires_seconds) && expires_seconds > max_expires)) {
    return Incomplete(max_expires == kMaxPresignExpiresSeconds
                          ? std::string("X-Amz-Expires must be less than a week (in seconds) that is 604800")
                          : "X-Amz-Expires must be at most " + std::to_string(max_expires) + " seconds.");
  }

  if (!IsSigned(auth, "host")) {
    return Incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  std::string session_token;
  if (token) {
    session_token = *token;  // part of the canonical query, hence signed
  } else if (size_t n = CountHeaders(request, "x-amz-security-token"); n > 0) {
    if (n > 1) return Incomplete("The request has more than one 'X-Amz-Security-Token' header.");
    if (!IsSigned(auth, "x-amz-security-token")) {
      return Incomplete("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
    }
    session_token = *request.Header("x-amz-security-token");
  }
  if (Status s = CheckAmzHeadersSigned(request, auth); !s.ok()) return s.error();

  if (Status s = CheckTime(auth, now, expires_seconds); !s.ok()) return s.error();

  params.erase(
      std::remove_if(params.begin(), params.end(), [](const QueryParam& p) { return p.key == "X-Amz-Signature"; }),
      params.end());
  return CheckSignature(request, lookup, auth, path, params, std::move(session_token));
}

}  // namespace

std::string UriDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<std::string> HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::string CanonicalRequest(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash_hex) {
  return CanonicalRequest(request, signed_headers, payload_hash_hex, PathNormalization::kNormalize);
}

std::string CanonicalRequest(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash_hex, PathNormalization normalization) {
  const SplitTarget target = Split(request.target);
  return BuildCanonicalRequest(request.method, target.path, ParseQuery(target.query), request.headers, signed_headers,
                               payload_hash_hex, normalization);
}

std::string StringToSign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  std::string out;
  out.append(kAlgorithm).push_back('\n');
  out.append(amz_date).push_back('\n');
  out.append(scope).push_back('\n');
  out.append(crypto::HexEncode(crypto::Sha256(canonical_request)));
  return out;
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                             std::string_view service) {
  std::string key = "AWS4";
  key.append(secret);
  std::string k = crypto::HmacSha256(key, date);
  OPENSSL_cleanse(key.data(), key.size());
  k = crypto::HmacSha256(k, region);
  k = crypto::HmacSha256(k, service);
  return crypto::HmacSha256(k, kScopeTerminator);
}

std::string FormatAmzDate(std::time_t t) {
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return {};
  char buf[72];  // room for any int fields; real dates use 16
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<std::time_t> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  int year, month, day, hour, minute, second;
  if (!ParseDigits(s.substr(0, 4), year) || !ParseDigits(s.substr(4, 2), month) || !ParseDigits(s.substr(6, 2), day) ||
      !ParseDigits(s.substr(9, 2), hour) || !ParseDigits(s.substr(11, 2), minute) ||
      !ParseDigits(s.substr(13, 2), second)) {
    return std::nullopt;
  }
  return FromUtcFields(year, month, day, hour, minute, second);
}

void SignRequest(HttpRequest& request, const Credentials& credentials, std::string_view region,
                 std::string_view service, std::time_t now) {
  RemoveHeaders(request, {"authorization", "x-amz-date", "x-amz-security-token"});
  const std::string amz_date = FormatAmzDate(now);
  request.headers.emplace_back("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  const std::vector<std::string> signed_headers = AllHeaderNames(request);
  const std::string canonical =
      CanonicalRequest(request, signed_headers, crypto::HexEncode(crypto::Sha256(request.body)));
  const std::string signature = SignatureHex(credentials.secret_access_key, amz_date, region, service, canonical);

  std::string authorization(kAlgorithm);
  authorization.append(" Credential=")
      .append(credentials.access_key_id)
      .append("/")
      .append(Scope(amz_date.substr(0, 8), region, service))
      .append(", SignedHeaders=")
      .append(JoinSignedHeaders(signed_headers))
      .append(", Signature=")
      .append(signature);
  request.headers.emplace_back("Authorization", std::move(authorization));
}

void PresignRequest(HttpRequest& request, const Credentials& credentials, std::string_view region,
                    std::string_view service, std::time_t now, std::int64_t expires_seconds) {
  expires_seconds = std::clamp<std::int64_t>(expires_seconds, 1, kMaxPresignExpiresSeconds);

  // Keep the caller's query pieces as sent, minus any earlier presigning.
  const SplitTarget split = Split(request.target);
  std::string target(split.path);
  std::string query;
  std::string_view rest = split.query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view piece = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (piece.empty()) continue;
    const std::string key = UriDecode(piece.substr(0, piece.find('=')));
    if (key == "X-Amz-Algorithm" || key == "X-Amz-Credential" || key == "X-Amz-Date" || key == "X-Amz-Expires" ||
        key == "X-Amz-SignedHeaders" || key == "X-Amz-Security-Token" || key == "X-Amz-Signature") {
      continue;
    }
    if (!query.empty()) query.push_back('&');
    query.append(piece);
  }

  const std::string amz_date = FormatAmzDate(now);
  const std::vector<std::string> signed_headers = AllHeaderNames(request);
  auto add = [&query](std::string_view key, std::string_view value) {
    if (!query.empty()) query.push_back('&');
    query.append(key).append("=").append(UriEncode(value, false));
  };
  add("X-Amz-Algorithm", kAlgorithm);
  add("X-Amz-Credential", credentials.access_key_id + "/" + Scope(amz_date.substr(0, 8), region, service));
  add("X-Amz-Date", amz_date);
  add("X-Amz-SignedHeaders", JoinSignedHeaders(signed_headers));
  add("X-Amz-Expires", std::to_string(expires_seconds));
  if (!credentials.session_token.empty()) add("X-Amz-Security-Token", credentials.session_token);
  request.target = target + "?" + query;

  const std::string canonical =
      CanonicalRequest(request, signed_headers, crypto::HexEncode(crypto::Sha256(request.body)));
  add("X-Amz-Signature", SignatureHex(credentials.secret_access_key, amz_date, region, service, canonical));
  request.target = target + "?" + query;
}

Result<VerifiedSignature> VerifyRequest(const HttpRequest& request, const KeyLookup& lookup, std::time_t now) {
  return VerifyRequest(request, lookup, now, VerifyOptions{});
}

Result<VerifiedSignature> VerifyRequest(const HttpRequest& request, const KeyLookup& lookup, std::time_t now,
                                        const VerifyOptions& options) {
  const bool has_header_auth = CountHeaders(request, "authorization") > 0;
  if (request.target.size() > kMaxTargetBytes) {
    return Incomplete("The request target is longer than " + std::to_string(kMaxTargetBytes) + " bytes.");
  }
  const SplitTarget target = Split(request.target);
  std::vector<QueryParam> params = ParseQuery(target.query);
  if (params.size() > kMaxQueryParams) {
    return Incomplete("The query string has more than " + std::to_string(kMaxQueryParams) + " parameters.");
  }
  const bool has_query_auth =
      std::any_of(params.begin(), params.end(), [](const QueryParam& p) { return IsQueryAuthParam(p.key); });

  if (has_header_auth && has_query_auth) {
    return Incomplete(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header "
        "should be specified.");
  }
  if (has_header_auth) return VerifyHeaderAuth(request, lookup, now, std::move(params), target.path);
  if (has_query_auth) {
    // Refused before anything is parsed or looked up: no key or signature oracle here.
    if (!options.allow_presigned) return Incomplete(std::string(kPresignNotAcceptedMessage));
    return VerifyQueryAuth(request, lookup, now, options, std::move(params), target.path);
  }
  return MakeError(std::string(kMissingToken), std::string(kMissingTokenMessage), 403);
}

}  // namespace porthole::auth
