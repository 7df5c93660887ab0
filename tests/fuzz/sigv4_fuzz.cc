// Fuzzes SigV4 parsing and verification (auth/sigv4.h) with whole requests.
// Input: one mode byte, then a request in the test suite's text form
// (tests/fixtures/sigv4/*/request.txt): "METHOD target HTTP/1.1", then
// "Name:value" lines, a blank line, the body. Anything parses to some request.
// The key store knows the suite's AKIDEXAMPLE; "now" is the suite's
// 20150830T123600Z, so the suite's signed requests verify.
//
// mode % 3 == 0: verify the request as given;
//             1: sign it (Authorization header) with the suite's key, then verify;
//             2: presign it (query string), then verify;
// mode / 3 % 7 chooses the change a verified request is checked against (below).
// Properties, beyond "no crash, no throw":
//  * an error is one of the five documented AWS error types, with its status;
//  * a verified request names AKIDEXAMPLE and a non-empty region and service;
//  * a verified request no longer verifies once its method, body or query is
//    changed, an unsigned x-amz-* header is added, or "now" is a week later;
//    nor with presigning refused (if it was presigned) or an unknown key;
//  * a request that meets the verifier's documented preconditions (Host
//    present, header names that are tokens, at most 64 of them, sizes within
//    the limits, no auth parameters of the other form) verifies once signed
//    or presigned with a known key;
//  * ParseAmzDate and FormatAmzDate are inverses.
#include <cstdint>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "common/crypto.h"
#include "fuzz_support.h"

namespace porthole::auth {
namespace {

constexpr std::time_t kNow = 1440938160;  // 20150830T123600Z
const Credentials kCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

std::optional<KeyLookupResult> Lookup(std::string_view akid) {
  if (akid != kCreds.access_key_id) return std::nullopt;
  return KeyLookupResult{kCreds.secret_access_key};
}

std::optional<KeyLookupResult> NoKeys(std::string_view) { return std::nullopt; }

// The suite's request format, as tests/unit/auth/sigv4_test.cc reads it, but
// total: every input gives some request.
HttpRequest ParseRequestText(std::string_view text) {
  HttpRequest request;
  const size_t head_end = text.find("\n\n");
  std::string_view head = text.substr(0, head_end);
  if (head_end != std::string_view::npos) request.body = std::string(text.substr(head_end + 2));
  fuzz::InputReader lines(head);
  const std::string_view first = lines.Until('\n');
  const size_t space = first.find(' ');
  const size_t last = first.rfind(' ');
  request.method = std::string(first.substr(0, space));
  if (space != std::string_view::npos) {
    request.target = std::string(last > space ? first.substr(space + 1, last - space - 1) : first.substr(space + 1));
  }
  while (!lines.empty()) {
    const std::string_view line = lines.Until('\n');
    if (line.empty()) continue;
    if ((line[0] == ' ' || line[0] == '\t') && !request.headers.empty()) {
      request.headers.back().second += "\n" + std::string(line);
      continue;
    }
    const size_t colon = line.find(':');
    request.headers.emplace_back(std::string(line.substr(0, colon)),
                                 colon == std::string_view::npos ? std::string() : std::string(line.substr(colon + 1)));
  }
  return request;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

void CheckError(const Error& e) {
  if (e.code == "IncompleteSignatureException") {
    FUZZ_CHECK(e.http_status == 400);
  } else if (e.code == "MissingAuthenticationTokenException" || e.code == "UnrecognizedClientException" ||
             e.code == "InvalidSignatureException") {
    FUZZ_CHECK(e.http_status == 403);
  } else {
    FUZZ_CHECK_MSG(false, e.code);
  }
  FUZZ_CHECK(!e.message.empty());
}

Result<VerifiedSignature> Verify(const HttpRequest& request, std::time_t now = kNow, bool allow_presigned = true,
                                 const KeyLookup& lookup = Lookup) {
  VerifyOptions options;
  options.allow_presigned = allow_presigned;
  Result<VerifiedSignature> r = VerifyRequest(request, lookup, now, options);
  if (!r.ok()) CheckError(r.error());
  return r;
}

// A verified request without an Authorization header was verified by its query string.
bool Presigned(const HttpRequest& request) { return !request.Header("authorization").has_value(); }

// What a verified request must no longer pass once changed: one change per
// execution, chosen by `which` (the fuzzer varies it with the mode byte).
void CheckTamperEvident(const HttpRequest& request, unsigned which) {
  HttpRequest changed = request;
  switch (which % 7) {
    case 0:  // past any presigned expiry (at most 7 days) and the 5-minute window
      FUZZ_CHECK(!Verify(request, kNow + 604800 + 1).ok());
      return;
    case 1:
      FUZZ_CHECK(!Verify(request, kNow, true, NoKeys).ok());
      return;
    case 2:
      if (Presigned(request)) FUZZ_CHECK(!Verify(request, kNow, /*allow_presigned=*/false).ok());
      return;
    case 3:
      changed.method += "X";
      break;
    case 4:
      changed.body += "X";
      break;
    case 5:
      changed.target += changed.target.find('?') == std::string::npos ? "?fuzz=1" : "&fuzz=1";
      break;
    case 6:
      changed.headers.emplace_back("X-Amz-Fuzz", "1");
      break;
  }
  FUZZ_CHECK_MSG(!Verify(changed).ok(), changed.method + " " + changed.target);
}

void CheckVerified(const HttpRequest& request, const Result<VerifiedSignature>& r, unsigned which) {
  FUZZ_CHECK(r->access_key_id == kCreds.access_key_id);
  FUZZ_CHECK(!r->region.empty() && !r->service.empty());
  CheckTamperEvident(request, which);
}

bool IsHeaderNameChar(char c) {
  static constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || kPunctuation.find(c) != std::string_view::npos;
}

// The decoded query keys of `target`, as the verifier splits them ("&", first "=", empty pieces skipped).
std::vector<std::string> QueryKeys(std::string_view target) {
  std::vector<std::string> keys;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return keys;
  fuzz::InputReader pieces(target.substr(q + 1));
  while (!pieces.empty()) {
    const std::string_view piece = pieces.Until('&');
    if (!piece.empty()) keys.push_back(UriDecode(piece.substr(0, piece.find('='))));
  }
  return keys;
}

// Trim and squash white space, as the canonical header value is built.
std::string Squashed(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// The verifier's documented preconditions for a request we signed ourselves.
bool Verifiable(const HttpRequest& signed_request, bool presigned) {
  if (signed_request.target.size() > 16384) return false;
  std::set<std::string> names;
  size_t content_sha = 0;
  for (const auto& [name, value] : signed_request.headers) {
    const std::string lower = Lowercase(name);
    if (lower.empty()) return false;
    for (char c : lower) {
      if (!IsHeaderNameChar(c)) return false;
    }
    if (lower == "authorization") continue;  // ours (header signing); refused by the presigned form below
    names.insert(lower);
    if (lower == "x-amz-content-sha256") {
      ++content_sha;
      if (Squashed(value) != crypto::HexEncode(crypto::Sha256(signed_request.body))) return false;
    }
    if (lower == "x-amz-security-token" && presigned) return false;  // fine, but read from the header: not checked here
  }
  if (names.count("host") == 0 || names.size() > 64 || content_sha > 1) return false;
  const std::optional<std::string> authorization = signed_request.Header("authorization");
  if (presigned && authorization) return false;
  if (authorization && authorization->size() > 4096) return false;
  const std::vector<std::string> keys = QueryKeys(signed_request.target);
  if (keys.size() > 256) return false;
  if (!presigned) {
    for (const std::string& key : keys) {
      if (key == "X-Amz-Algorithm" || key == "X-Amz-Credential" || key == "X-Amz-Signature") return false;
    }
  }
  return true;
}

void CheckAmzDate(std::string_view text) {
  const std::optional<std::time_t> t = ParseAmzDate(text);
  if (!t) return;
  FUZZ_CHECK_MSG(FormatAmzDate(*t) == text, text);
  FUZZ_CHECK(ParseAmzDate(FormatAmzDate(*t)) == t);
}

}  // namespace
}  // namespace porthole::auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::auth;
  using porthole::Result;
  porthole::fuzz::InputReader input(data, size);
  const uint8_t mode = input.Byte();
  const std::string_view text = input.Rest();
  HttpRequest request = ParseRequestText(text);

  switch (mode % 3) {
    case 0: {
      Result<VerifiedSignature> r = Verify(request);
      if (r.ok()) CheckVerified(request, r, mode / 3);
      CheckAmzDate(text.substr(0, 16));
      if (auto date = request.Header("x-amz-date")) CheckAmzDate(*date);
      break;
    }
    case 1: {
      SignRequest(request, kCreds, "us-east-1", "service", kNow);
      Result<VerifiedSignature> r = Verify(request);
      if (Verifiable(request, /*presigned=*/false)) {
        FUZZ_CHECK_MSG(r.ok(), r.ok() ? "" : r.error().message);
        CheckVerified(request, r, mode / 3);
      } else if (r.ok()) {
        CheckVerified(request, r, mode / 3);
      }
      break;
    }
    case 2: {
      PresignRequest(request, kCreds, "us-east-1", "service", kNow, 1 + mode);
      Result<VerifiedSignature> r = Verify(request);
      if (Verifiable(request, /*presigned=*/true)) {
        FUZZ_CHECK_MSG(r.ok(), r.ok() ? "" : r.error().message);
        CheckVerified(request, r, mode / 3);
      } else if (r.ok()) {
        CheckVerified(request, r, mode / 3);
      }
      break;
    }
  }
  return 0;
}
