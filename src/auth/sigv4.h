#pragma once
// AWS Signature Version 4: signing (for our clients) and verification (for
// portholed). Canonicalization follows the AWS SigV4 test suite
// (tests/fixtures/sigv4). Verification rules on top of the suite, from
// shared/reference/security-and-reliability.md ("SigV4 ... server-side rules"):
// a +/-5 minute window around `now`, credential-scope date == X-Amz-Date date,
// constant-time signature comparison, and a signature that covers Host and every
// x-amz-* header present (an unsigned X-Amz-Target would let a captured signature
// for one operation run another).
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace porthole::auth {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

// A transport-neutral view of an HTTP request. `target` is the request-target
// exactly as sent on the wire: path plus optional "?query", still percent-encoded.
// As AWS does for every service but S3, the canonical URI encodes the wire path
// once more ("/a%20b" signs as "/a%2520b"); query keys and values are decoded
// and re-encoded.
struct HttpRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // in wire order, names as sent
  std::string body;

  // First header with this name (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
};

// Decodes %XX as the verifier reads a query string: a '%' not followed by two
// hex digits stays literal, and '+' stays '+' (not a space).
std::string UriDecode(std::string_view s);

// Adds X-Amz-Date, X-Amz-Security-Token (when the credentials have one) and
// Authorization to `request`, signing every header present (the caller must
// have set Host; VerifyRequest refuses any x-amz-* header added afterwards). S3-style services are not needed: paths are normalized.
void SignRequest(HttpRequest& request, const Credentials& credentials, std::string_view region,
                 std::string_view service, std::time_t now);

// Presigns `request` in the query string: appends X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Expires, X-Amz-Security-Token (when the
// credentials have one) and X-Amz-Signature to `target`, replacing any earlier ones.
// Every header present is signed (the caller must have set Host); the payload hash
// is that of `body`. `expires_seconds` is clamped to [1, 604800].
void PresignRequest(HttpRequest& request, const Credentials& credentials, std::string_view region,
                    std::string_view service, std::time_t now, std::int64_t expires_seconds);

// What the verifier learns from a valid signature.
struct VerifiedSignature {
  std::string access_key_id;
  std::string region;   // from the credential scope
  std::string service;  // from the credential scope
  std::string session_token;  // X-Amz-Security-Token, empty if none
};

// What the caller's key store knows about an access key id.
struct KeyLookupResult {
  std::string secret_access_key;
};
using KeyLookup = std::function<std::optional<KeyLookupResult>(std::string_view access_key_id)>;

// Verifies the Authorization header (or presigned X-Amz-* query parameters)
// of `request` at time `now`. Both forms must sign Host and every header whose
// name starts with "x-amz-" (any case) that is present — X-Amz-Target, X-Amz-Date,
// X-Amz-Security-Token and x-amz-content-sha256 included; "x-amzn-trace-id" and
// other headers may be unsigned. Presigned requests need X-Amz-Expires in
// 1..604800 and at most `options.max_presign_expires_seconds`, and are refused
// outright when `!options.allow_presigned`. Errors use the AWS error type the
// JSON API answers with:
//   MissingAuthenticationTokenException (403)  no Authorization at all
//   IncompleteSignatureException (400)         malformed Authorization / missing X-Amz-Date,
//                                              Host or an x-amz-* header present but unsigned
//                                              ("The request signature does not cover the header
//                                              'x-amz-target'; every x-amz-* header present must be
//                                              signed."), bad X-Amz-Expires, presigned request when
//                                              not allowed
//   UnrecognizedClientException (403)          unknown access key id
//   InvalidSignatureException (403)            signature mismatch, skew > 5 min,
//                                              scope date != X-Amz-Date date, presign expired
// Messages name the cause as AWS does (e.g. "Signature expired: 20150830T123600Z is now
// earlier than 20150830T124100Z (20150830T124600Z - 5 min.)").
// The caller still checks that the scope's region and service are its own.
// This overload uses the default VerifyOptions (presigned requests accepted, up to 7 days).
Result<VerifiedSignature> VerifyRequest(const HttpRequest& request, const KeyLookup& lookup,
                                        std::time_t now);

struct VerifyOptions {
  // Largest X-Amz-Expires accepted on presigned requests (AWS's ceiling is 7 days and
  // always applies; callers handing out short-lived URLs should lower it; below 1,
  // every presigned request is refused).
  std::int64_t max_presign_expires_seconds = 604800;
  // When false, a request authenticated by query parameters is refused
  // (IncompleteSignatureException, "Presigned requests are not accepted for this
  // operation.") before its key is looked up or its signature computed. Endpoints
  // that only header-signing clients call (the JSON API) should set it false, so a
  // URL presigned for one purpose cannot be replayed against them.
  bool allow_presigned = true;
};
Result<VerifiedSignature> VerifyRequest(const HttpRequest& request, const KeyLookup& lookup,
                                        std::time_t now, const VerifyOptions& options);

// Exposed for tests against the suite's intermediate files.
// `signed_headers` are header names (any case, any order); the path is normalized.
std::string CanonicalRequest(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash_hex);
// kAsIs skips dot-segment removal and slash collapsing (the suite's "normalize": false
// cases, as S3 signs); signing and verification always normalize.
enum class PathNormalization { kNormalize, kAsIs };
std::string CanonicalRequest(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash_hex, PathNormalization normalization);
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);
// The raw 32-byte signing key (not hex).
std::string DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                             std::string_view service);

// "20150830T123600Z" for `t`, and back.
std::string FormatAmzDate(std::time_t t);
std::optional<std::time_t> ParseAmzDate(std::string_view s);

}  // namespace porthole::auth
