#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/crypto.h"

namespace porthole::auth {
namespace {

namespace fs = std::filesystem;

// ---- the AWS SigV4 test suite (tests/fixtures/sigv4) ---------------------------------------

fs::path SuiteDir() { return fs::path(PORTHOLE_SHARED_DIR) / "sigv4"; }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> SuiteCases() {
  std::vector<std::string> cases;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(SuiteDir(), ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "request.txt")) cases.push_back(entry.path().filename());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// Parses the suite's request files: "METHOD target HTTP/1.1", "Name:value" lines
// (a line starting with whitespace continues the previous value, kept with its line
// break so the canonicalizer must fold it), a blank line, then the body.
// The target may contain spaces ("/example space/").
HttpRequest ParseSuiteRequest(const std::string& text) {
  HttpRequest request;
  size_t head_end = text.find("\n\n");
  std::string head = text.substr(0, head_end);
  if (head_end != std::string::npos) request.body = text.substr(head_end + 2);
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  size_t first = line.find(' ');
  size_t last = line.rfind(' ');
  request.method = line.substr(0, first);
  request.target = line.substr(first + 1, last - first - 1);
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      request.headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return request;
}

std::string Hex(std::string_view bytes) { return crypto::HexEncode(bytes); }
std::string BodyHash(const HttpRequest& r) { return Hex(crypto::Sha256(r.body)); }

std::vector<std::string> HeaderNames(const HttpRequest& r) {
  std::vector<std::string> names;
  for (const auto& h : r.headers) {
    std::string n = h.first;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out.append(sep);
    out.append(s);
  }
  return out;
}

std::string Encode(std::string_view s) {  // query-value encoding, for building presigned targets by hand
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out.append(buf);
    }
  }
  return out;
}

struct SuiteCase {
  std::string name;
  fs::path dir;
  nlohmann::json context;
  HttpRequest request;
  std::string access_key_id, secret, token;
  std::string region, service, amz_date;
  std::time_t time = 0;
  bool normalize = true, sign_body = false, omit_session_token = false;
  int expires = 0;

  std::string File(const std::string& name) const { return ReadFile(dir / name); }
  PathNormalization Normalization() const {
    return normalize ? PathNormalization::kNormalize : PathNormalization::kAsIs;
  }
  std::string Scope() const { return amz_date.substr(0, 8) + "/" + region + "/" + service + "/aws4_request"; }
  std::string Sign(const std::string& canonical) const {
    return Hex(crypto::HmacSha256(DeriveSigningKey(secret, amz_date.substr(0, 8), region, service),
                                  StringToSign(amz_date, Scope(), canonical)));
  }
  KeyLookup Lookup() const {
    return [id = access_key_id, secret = secret](std::string_view akid) -> std::optional<KeyLookupResult> {
      if (akid != id) return std::nullopt;
      return KeyLookupResult{secret};
    };
  }
};

SuiteCase LoadCase(const std::string& name) {
  SuiteCase c;
  c.name = name;
  c.dir = SuiteDir() / name;
  c.context = nlohmann::json::parse(ReadFile(c.dir / "context.json"));
  c.request = ParseSuiteRequest(ReadFile(c.dir / "request.txt"));
  const auto& creds = c.context.at("credentials");
  c.access_key_id = creds.at("access_key_id");
  c.secret = creds.at("secret_access_key");
  c.token = creds.value("token", "");
  c.region = c.context.at("region");
  c.service = c.context.at("service");
  c.normalize = c.context.value("normalize", true);
  c.sign_body = c.context.value("sign_body", false);
  c.omit_session_token = c.context.value("omit_session_token", false);
  c.expires = c.context.value("expiration_in_seconds", 0);
  std::string ts = c.context.at("timestamp");  // "2015-08-30T12:36:00Z"
  std::string compact;
  for (char ch : ts) {
    if (ch != '-' && ch != ':') compact.push_back(ch);
  }
  c.amz_date = compact;
  c.time = ParseAmzDate(compact).value();
  return c;
}

TEST(SigV4Suite, FolderHasAllCases) {
  // The suite ships 38 cases; losing the folder must not make the vector tests pass vacuously.
  EXPECT_EQ(SuiteCases().size(), 38u) << SuiteDir();
}

class SigV4SuiteTest : public ::testing::TestWithParam<std::string> {};

// Authorization-header form: canonical request, string to sign, signature.
TEST_P(SigV4SuiteTest, HeaderForm) {
  SuiteCase c = LoadCase(GetParam());
  HttpRequest r = c.request;
  r.headers.emplace_back("X-Amz-Date", c.amz_date);
  if (!c.token.empty() && !c.omit_session_token) r.headers.emplace_back("X-Amz-Security-Token", c.token);
  if (c.sign_body) r.headers.emplace_back("x-amz-content-sha256", BodyHash(r));

  const std::string canonical = CanonicalRequest(r, HeaderNames(r), BodyHash(r), c.Normalization());
  EXPECT_EQ(canonical, c.File("header-canonical-request.txt"));
  EXPECT_EQ(StringToSign(c.amz_date, c.Scope(), canonical), c.File("header-string-to-sign.txt"));
  EXPECT_EQ(c.Sign(canonical), c.File("header-signature.txt"));
}

// Presigned (query) form: the X-Amz-* parameters join the canonical query string.
TEST_P(SigV4SuiteTest, QueryForm) {
  SuiteCase c = LoadCase(GetParam());
  HttpRequest r = c.request;
  std::string auth_params =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + Encode(c.access_key_id + "/" + c.Scope()) +
      "&X-Amz-Date=" + c.amz_date + "&X-Amz-SignedHeaders=" + Encode(Join(HeaderNames(r), ";")) +
      "&X-Amz-Expires=" + std::to_string(c.expires);
  if (!c.token.empty() && !c.omit_session_token) auth_params += "&X-Amz-Security-Token=" + Encode(c.token);
  r.target += (r.target.find('?') == std::string::npos ? "?" : "&") + auth_params;

  const std::string canonical = CanonicalRequest(r, HeaderNames(r), BodyHash(r), c.Normalization());
  EXPECT_EQ(canonical, c.File("query-canonical-request.txt"));
  EXPECT_EQ(StringToSign(c.amz_date, c.Scope(), canonical), c.File("query-string-to-sign.txt"));
  EXPECT_EQ(c.Sign(canonical), c.File("query-signature.txt"));
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string AuthorizationLine(const std::string& signed_request) {
  std::istringstream lines(signed_request);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("Authorization:", 0) == 0) return line.substr(14);
  }
  return {};
}

// SignRequest and PresignRequest reproduce the suite's signed requests. They always
// normalize the path and always sign the session token, so for a "normalize": false
// case they must produce its "-normalized" sibling, and for post-sts-header-after
// its "-before" sibling (same request.txt, checked).
std::string SignerCase(const SuiteCase& c) {
  std::string name = c.name;
  if (!c.normalize) name.replace(name.rfind("unnormalized"), 12, "normalized");
  if (c.omit_session_token) name.replace(name.rfind("after"), 5, "before");
  return name;
}

TEST_P(SigV4SuiteTest, SignRequestMatchesSuite) {
  SuiteCase c = LoadCase(GetParam());
  const SuiteCase expected = LoadCase(SignerCase(c));
  ASSERT_EQ(c.File("request.txt"), expected.File("request.txt"));
  HttpRequest r = c.request;
  if (c.sign_body) r.headers.emplace_back("x-amz-content-sha256", BodyHash(r));
  SignRequest(r, Credentials{c.access_key_id, c.secret, c.token}, c.region, c.service, c.time);
  EXPECT_EQ(r.Header("Authorization").value_or(""), AuthorizationLine(expected.File("header-signed-request.txt")));
  EXPECT_EQ(r.Header("X-Amz-Date").value_or(""), c.amz_date);
  EXPECT_EQ(r.Header("X-Amz-Security-Token").has_value(), !c.token.empty());
}

TEST_P(SigV4SuiteTest, PresignRequestMatchesSuite) {
  SuiteCase c = LoadCase(GetParam());
  const SuiteCase expected = LoadCase(SignerCase(c));
  ASSERT_EQ(c.File("request.txt"), expected.File("request.txt"));
  HttpRequest r = c.request;
  PresignRequest(r, Credentials{c.access_key_id, c.secret, c.token}, c.region, c.service, c.time, c.expires);
  EXPECT_EQ(r.method + " " + r.target + " HTTP/1.1", FirstLine(expected.File("query-signed-request.txt")));
}

// The verifier accepts the suite's signed requests as they would arrive on the wire,
// and refuses the ones it must: unnormalized paths (it normalizes, as non-S3 AWS
// services do) and a session token added after signing.
TEST_P(SigV4SuiteTest, VerifierAcceptsSignedRequests) {
  SuiteCase c = LoadCase(GetParam());
  for (const char* file : {"header-signed-request.txt", "query-signed-request.txt"}) {
    SCOPED_TRACE(file);
    const HttpRequest r = ParseSuiteRequest(c.File(file));
    const bool header_form = std::string_view(file).rfind("header", 0) == 0;
    const std::string expected_canonical =
        c.File(header_form ? "header-canonical-request.txt" : "query-canonical-request.txt");
    const bool path_survives_normalization =
        c.normalize || FirstLine(expected_canonical.substr(expected_canonical.find('\n') + 1)) ==
                           FirstLine(CanonicalRequest(c.request, {}, "").substr(c.request.method.size() + 1));

    Result<VerifiedSignature> v = VerifyRequest(r, c.Lookup(), c.time);
    if (c.omit_session_token && header_form) {
      ASSERT_FALSE(v.ok());
      EXPECT_EQ(v.error().code, "IncompleteSignatureException");
      EXPECT_EQ(v.error().message, "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
    } else if (c.omit_session_token || !path_survives_normalization) {
      ASSERT_FALSE(v.ok());
      EXPECT_EQ(v.error().code, "InvalidSignatureException");
    } else {
      ASSERT_TRUE(v.ok()) << v.error().code << ": " << v.error().message;
      EXPECT_EQ(v->access_key_id, c.access_key_id);
      EXPECT_EQ(v->region, c.region);
      EXPECT_EQ(v->service, c.service);
      EXPECT_EQ(v->session_token, c.token);
    }
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(AwsSuite, SigV4SuiteTest, ::testing::ValuesIn(SuiteCases()), CaseName);

// ---- canonicalization details ---------------------------------------------------------------

HttpRequest Get(std::string target) {
  HttpRequest r;
  r.method = "GET";
  r.target = std::move(target);
  r.headers = {{"Host", "example.amazonaws.com"}};
  return r;
}

std::string CanonicalUriOf(const std::string& target) {
  std::string canonical = CanonicalRequest(Get(target), {}, "");
  return FirstLine(canonical.substr(canonical.find('\n') + 1));
}

std::string CanonicalQueryOf(const std::string& target) {
  std::string canonical = CanonicalRequest(Get(target), {}, "");
  size_t uri_end = canonical.find('\n', canonical.find('\n') + 1);
  return FirstLine(canonical.substr(uri_end + 1));
}

TEST(SigV4Canonical, PathNormalization) {
  EXPECT_EQ(CanonicalUriOf("/a/b/../c/./d//"), "/a/c/d/");
  EXPECT_EQ(CanonicalUriOf("/../.."), "/");
  EXPECT_EQ(CanonicalUriOf(""), "/");
  EXPECT_EQ(CanonicalUriOf("/a/b/.."), "/a");
  EXPECT_EQ(CanonicalUriOf("//a///b"), "/a/b");
}

TEST(SigV4Canonical, PathIsEncodedAgainLikeAwsNonS3) {
  EXPECT_EQ(CanonicalUriOf("/a%20b"), "/a%2520b");
  EXPECT_EQ(CanonicalUriOf("/a+b=c"), "/a%2Bb%3Dc");
}

TEST(SigV4Canonical, QueryDecodedReencodedAndSorted) {
  EXPECT_EQ(CanonicalQueryOf("/?b=2&a&c="), "a=&b=2&c=");
  EXPECT_EQ(CanonicalQueryOf("/?k=a%2fb"), "k=a%2Fb");
  EXPECT_EQ(CanonicalQueryOf("/?k=a+b"), "k=a%2Bb");
  EXPECT_EQ(CanonicalQueryOf("/?k=a%20b"), "k=a%20b");
  EXPECT_EQ(CanonicalQueryOf("/?a=2&a=1&&"), "a=1&a=2");
  EXPECT_EQ(CanonicalQueryOf("/?bad=%zz"), "bad=%25zz");
}

TEST(SigV4Canonical, HeaderValuesTrimmedCollapsedAndJoined) {
  HttpRequest r = Get("/");
  r.headers.emplace_back("X-Multi", "  one  ");
  r.headers.emplace_back("x-multi", "two\r\n\tthree");
  r.headers.emplace_back("X-Unsigned", "ignored");
  const std::string canonical = CanonicalRequest(r, {"X-Multi", "host"}, "hash");
  EXPECT_EQ(canonical, "GET\n/\n\nhost:example.amazonaws.com\nx-multi:one,two three\n\nhost;x-multi\nhash");
}

TEST(SigV4Canonical, DeriveSigningKeyMatchesAwsDocumentationExample) {
  EXPECT_EQ(Hex(DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4Dates, FormatAndParse) {
  EXPECT_EQ(FormatAmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(ParseAmzDate("20150830T123600Z"), std::optional<std::time_t>(1440938160));
  EXPECT_EQ(ParseAmzDate("20160229T000000Z").has_value(), true);
  for (const char* bad : {"20150830T123600", "20150830 123600Z", "2015083OT123600Z", "20150230T000000Z",
                          "20150830T240000Z", "20151301T000000Z", "", "20150830T123600Z "}) {
    EXPECT_FALSE(ParseAmzDate(bad).has_value()) << bad;
  }
}

// ---- verification ---------------------------------------------------------------------------

constexpr std::time_t kNow = 1440938160;  // 20150830T123600Z
const Credentials kCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr std::string_view kMismatch =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details.";

KeyLookup Keys(std::string secret = kCreds.secret_access_key) {
  return [secret](std::string_view akid) -> std::optional<KeyLookupResult> {
    if (akid != "AKIDEXAMPLE") return std::nullopt;
    return KeyLookupResult{secret};
  };
}

HttpRequest ApiRequest() {
  HttpRequest r;
  r.method = "POST";
  r.target = "/";
  r.headers = {{"Host", "ecs.us-east-1.amazonaws.com"},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ExecuteCommand"}};
  r.body = R"({"cluster":"default","task":"abc","interactive":true,"command":"/bin/sh"})";
  return r;
}

HttpRequest Signed(HttpRequest r = ApiRequest(), std::time_t at = kNow, const Credentials& creds = kCreds) {
  SignRequest(r, creds, "us-east-1", "ecs", at);
  return r;
}

void SetHeader(HttpRequest& r, std::string_view name, std::string value) {
  for (auto& h : r.headers) {
    if (h.first == name) {
      h.second = std::move(value);
      return;
    }
  }
  r.headers.emplace_back(std::string(name), std::move(value));
}

// Builds an Authorization header from parts, with a signature that is valid for them,
// so a rejection can only come from the rule under test.
void SignWithScope(HttpRequest& r, std::string_view amz_date, std::string_view scope_date,
                   std::string_view terminator = "aws4_request") {
  SetHeader(r, "X-Amz-Date", std::string(amz_date));
  std::vector<std::string> names = HeaderNames(r);
  names.erase(std::remove(names.begin(), names.end(), "authorization"), names.end());
  const std::string scope = std::string(scope_date) + "/us-east-1/ecs/" + std::string(terminator);
  const std::string canonical = CanonicalRequest(r, names, BodyHash(r));
  std::string key = crypto::HmacSha256("AWS4" + kCreds.secret_access_key, scope_date);
  key = crypto::HmacSha256(crypto::HmacSha256(crypto::HmacSha256(key, "us-east-1"), "ecs"), terminator);
  const std::string sig = Hex(crypto::HmacSha256(key, StringToSign(amz_date, scope, canonical)));
  SetHeader(r, "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" + scope + ", SignedHeaders=" + Join(names, ";") +
                ", Signature=" + sig);
}

// Every rejection: the expected AWS error, and no secret in the message.
void ExpectError(const Result<VerifiedSignature>& v, std::string_view code, int status) {
  ASSERT_FALSE(v.ok()) << "accepted a request that must be rejected";
  EXPECT_EQ(v.error().code, code) << v.error().message;
  EXPECT_EQ(v.error().http_status, status);
  EXPECT_EQ(v.error().message.find(kCreds.secret_access_key), std::string::npos);
}

TEST(SigV4Verify, RoundTrip) {
  HttpRequest r = Signed();
  EXPECT_EQ(r.Header("x-amz-date").value_or(""), "20150830T123600Z");
  EXPECT_FALSE(r.Header("x-amz-security-token").has_value());
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(v->region, "us-east-1");
  EXPECT_EQ(v->service, "ecs");
  EXPECT_EQ(v->session_token, "");
}

TEST(SigV4Verify, ResigningReplacesEarlierSignature) {
  HttpRequest r = Signed(ApiRequest(), kNow - 3600);
  SignRequest(r, kCreds, "us-east-1", "ecs", kNow);
  EXPECT_EQ(std::count_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "Authorization"; }), 1);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
}

TEST(SigV4Verify, SessionTokenPassedThrough) {
  const Credentials creds{"AKIDEXAMPLE", kCreds.secret_access_key, "FQoGZXIvYXdzEXAMPLETOKEN//+="};
  HttpRequest r = Signed(ApiRequest(), kNow, creds);
  EXPECT_EQ(r.Header("X-Amz-Security-Token").value_or(""), creds.session_token);
  EXPECT_NE(r.Header("Authorization")->find("x-amz-security-token"), std::string::npos);
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->session_token, creds.session_token);
}

TEST(SigV4Verify, SwappedSessionTokenRejected) {
  const Credentials creds{"AKIDEXAMPLE", kCreds.secret_access_key, "token-one"};
  HttpRequest r = Signed(ApiRequest(), kNow, creds);
  SetHeader(r, "X-Amz-Security-Token", "token-two");
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);
}

TEST(SigV4Verify, UnsignedSessionTokenRejected) {
  HttpRequest r = Signed();
  r.headers.emplace_back("X-Amz-Security-Token", "added-after-signing");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
}

TEST(SigV4Verify, TamperedBodyRejected) {
  HttpRequest r = Signed();
  r.body.replace(r.body.find("/bin/sh"), 7, "/bin/rm");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message, kMismatch);
}

TEST(SigV4Verify, TamperedSignedHeaderRejected) {
  HttpRequest r = Signed();
  SetHeader(r, "X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message, kMismatch);
}

TEST(SigV4Verify, TamperedPathOrQueryRejected) {
  HttpRequest r = Signed();
  r.target = "/?Action=Other";
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);
  r = Signed();
  r.target = "/other";
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);
}

TEST(SigV4Verify, DuplicatedSignedHeaderRejected) {
  HttpRequest r = Signed();
  r.headers.emplace_back("x-amz-target", "AmazonEC2ContainerServiceV20141113.DeleteCluster");
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);
}

TEST(SigV4Verify, UnsignedHeaderMayBeAdded) {
  HttpRequest r = Signed();
  r.headers.emplace_back("User-Agent", "added-by-a-proxy");
  EXPECT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
}

// ---- every x-amz-* header present must be signed --------------------------------------------

std::string UnsignedHeaderMessage(std::string_view lowercase_name) {
  return "The request signature does not cover the header '" + std::string(lowercase_name) +
         "'; every x-amz-* header present must be signed.";
}

HttpRequest WithoutHeader(HttpRequest r, std::string_view name) {
  r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(), [&](auto& h) { return h.first == name; }),
                  r.headers.end());
  return r;
}

TEST(SigV4Verify, UnsignedTargetRejected) {
  // Signed without X-Amz-Target, which is added afterwards: the signature still holds for the
  // headers it lists, so only the rule can refuse it (the request chose no operation when signed).
  HttpRequest r = Signed(WithoutHeader(ApiRequest(), "X-Amz-Target"));
  ASSERT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
  r.headers.emplace_back("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, UnsignedHeaderMessage("x-amz-target"));
}

TEST(SigV4Verify, UnsignedAmzHeaderRejected) {
  for (const char* name : {"x-amz-foo", "X-Amz-Foo", "X-AMZ-FOO"}) {
    SCOPED_TRACE(name);
    HttpRequest r = Signed();
    r.headers.emplace_back(name, "added-after-signing");
    Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
    ExpectError(v, "IncompleteSignatureException", 400);
    EXPECT_EQ(v.error().message, UnsignedHeaderMessage("x-amz-foo"));
  }
}

TEST(SigV4Verify, UnsignedContentSha256Rejected) {
  // Even when it states the right hash: AWS's signers sign it, so an unsigned one was added.
  HttpRequest r = Signed();
  r.headers.emplace_back("x-amz-content-sha256", BodyHash(r));
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, UnsignedHeaderMessage("x-amz-content-sha256"));
}

TEST(SigV4Verify, UnsignedAmzDateRejected) {
  // Signed and dated by Date; an X-Amz-Date added later takes over as the signing date, so
  // the date rule (which names it) refuses it before the general one would.
  HttpRequest r = ApiRequest();
  r.headers.emplace_back("Date", "Sun, 30 Aug 2015 12:36:00 GMT");
  std::vector<std::string> names = HeaderNames(r);
  const std::string canonical = CanonicalRequest(r, names, BodyHash(r));
  const std::string key = DeriveSigningKey(kCreds.secret_access_key, "20150830", "us-east-1", "ecs");
  const std::string sig =
      Hex(crypto::HmacSha256(key, StringToSign("20150830T123600Z", "20150830/us-east-1/ecs/aws4_request", canonical)));
  r.headers.emplace_back("Authorization",
                         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, "
                         "SignedHeaders=" +
                             Join(names, ";") + ", Signature=" + sig);
  ASSERT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
  r.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
}

TEST(SigV4Verify, UnsignedAmznTraceIdAccepted) {
  // x-amzn-* is not x-amz-*: the SDKs leave x-amzn-trace-id unsigned on purpose.
  HttpRequest r = Signed();
  r.headers.emplace_back("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
}

TEST(SigV4Verify, SignRequestSignsEveryHeaderPresent) {
  HttpRequest r = ApiRequest();
  r.headers.emplace_back("X-Amz-Foo", "bar");
  SignRequest(r, kCreds, "us-east-1", "ecs", kNow);
  EXPECT_NE(r.Header("Authorization")->find("SignedHeaders=content-type;host;x-amz-date;x-amz-foo;x-amz-target,"),
            std::string::npos)
      << *r.Header("Authorization");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ASSERT_TRUE(v.ok()) << v.error().code << ": " << v.error().message;

  // With a session token too, and with presigned requests refused (header auth is unaffected).
  const Credentials creds{"AKIDEXAMPLE", kCreds.secret_access_key, "token"};
  VerifyOptions options;
  options.allow_presigned = false;
  EXPECT_TRUE(VerifyRequest(Signed(ApiRequest(), kNow, creds), Keys(), kNow, options).ok());
}

TEST(SigV4Verify, WrongSecretRejected) {
  Result<VerifiedSignature> v = VerifyRequest(Signed(), Keys("not-the-secret"), kNow);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message, kMismatch);
}

TEST(SigV4Verify, TruncatedSignatureRejected) {
  HttpRequest r = Signed();
  std::string auth = *r.Header("Authorization");
  SetHeader(r, "Authorization", auth.substr(0, auth.size() - 1));
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);
}

TEST(SigV4Verify, UnknownKeyRejected) {
  const Credentials stranger{"AKIDUNKNOWN", kCreds.secret_access_key, ""};
  Result<VerifiedSignature> v = VerifyRequest(Signed(ApiRequest(), kNow, stranger), Keys(), kNow);
  ExpectError(v, "UnrecognizedClientException", 403);
  EXPECT_EQ(v.error().message, "The security token included in the request is invalid.");
  ExpectError(VerifyRequest(Signed(), KeyLookup(), kNow), "UnrecognizedClientException", 403);
}

TEST(SigV4Verify, SkewSixMinutesLateRejected) {
  // Signed at 12:36:00, verified at 12:42:00.
  Result<VerifiedSignature> v = VerifyRequest(Signed(), Keys(), kNow + 360);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)");
}

TEST(SigV4Verify, SkewSixMinutesEarlyRejected) {
  // Signed at 12:36:00, verified at 12:30:00.
  Result<VerifiedSignature> v = VerifyRequest(Signed(), Keys(), kNow - 360);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message,
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T123000Z + "
            "5 min.)");
}

TEST(SigV4Verify, SkewOfExactlyFiveMinutesAccepted) {
  EXPECT_TRUE(VerifyRequest(Signed(), Keys(), kNow + 300).ok());
  EXPECT_TRUE(VerifyRequest(Signed(), Keys(), kNow - 300).ok());
  EXPECT_FALSE(VerifyRequest(Signed(), Keys(), kNow + 301).ok());
  EXPECT_FALSE(VerifyRequest(Signed(), Keys(), kNow - 301).ok());
}

TEST(SigV4Verify, ScopeDateMustMatchAmzDate) {
  // A correct HMAC over a scope dated the day after X-Amz-Date (a cross-midnight request).
  HttpRequest r = ApiRequest();
  SignWithScope(r, "20150830T235959Z", "20150831");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow + (11 * 3600 + 23 * 60 + 59));
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' "
            "!= '20150830', from '20150830T235959Z'.");

  // The same construction with matching dates passes, so the rejection above is the date rule.
  HttpRequest ok = ApiRequest();
  SignWithScope(ok, "20150830T235959Z", "20150830");
  EXPECT_TRUE(VerifyRequest(ok, Keys(), kNow + (11 * 3600 + 23 * 60 + 59)).ok());
}

TEST(SigV4Verify, ScopeMustEndInAws4Request) {
  HttpRequest r = ApiRequest();
  SignWithScope(r, "20150830T123600Z", "20150830", "aws4_requestx");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message,
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requestx'.");
}

TEST(SigV4Verify, MissingAuthorizationRejected) {
  HttpRequest r = ApiRequest();
  r.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "MissingAuthenticationTokenException", 403);
  EXPECT_EQ(v.error().message, "Missing Authentication Token");
}

TEST(SigV4Verify, AuthorizationMissingPartsNamed) {
  HttpRequest r = ApiRequest();
  r.headers.emplace_back("Authorization",
                         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message,
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
            "parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
}

TEST(SigV4Verify, MissingDateRejected) {
  HttpRequest r = Signed();
  r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "X-Amz-Date"; }),
                  r.headers.end());
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
}

TEST(SigV4Verify, MalformedAuthorizationRejected) {
  struct Bad {
    std::string authorization;
    std::string message_part;
  };
  const std::string sig = std::string(64, 'a');
  const std::vector<Bad> cases = {
      {"Bearer abc", "'AWS4-HMAC-SHA256'"},
      {"AWS4-HMAC-SHA256Credential=x", "'AWS4-HMAC-SHA256'"},
      {"AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host, "
       "Signature=" +
           sig,
       "component 1 is not a valid key=value pair (missing equal-sign)"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, "
       "Signature=" +
           sig,
       "Credential must have exactly 5 slash-delimited elements"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host;;x-amz-date, "
       "Signature=" +
           sig,
       "SignedHeaders must be"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=Host;x-amz-date, "
       "Signature=" +
           sig,
       "lowercase"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host;host, "
       "Signature=" +
           sig,
       "twice"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=x-amz-date, "
       "Signature=" +
           sig,
       "'Host' or ':authority' must be a 'SignedHeader'"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host, "
       "Signature=" +
           sig,
       "'X-Amz-Date' must be a 'SignedHeader'"},
      {"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/ecs/aws4_request, Credential=B/20150830/us-east-1/ecs/"
       "aws4_request, SignedHeaders=host;x-amz-date, Signature=" +
           sig,
       "repeats the 'Credential'"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, "
       "Signature=" +
           sig + ", Extra=1",
       "unknown component 'Extra'"},
      {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=" +
           std::string(5000, 'a') + ", Signature=" + sig,
       "longer than 4096 bytes"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.authorization.substr(0, 120));
    HttpRequest r = ApiRequest();
    r.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
    r.headers.emplace_back("Authorization", bad.authorization);
    Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
    ExpectError(v, "IncompleteSignatureException", 400);
    if (!v.ok()) {
      EXPECT_NE(v.error().message.find(bad.message_part), std::string::npos) << v.error().message;
    }
  }
}

TEST(SigV4Verify, MalformedDateRejected) {
  HttpRequest r = Signed();
  SetHeader(r, "X-Amz-Date", "2015-08-30T12:36:00Z");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_NE(v.error().message.find("ISO-8601"), std::string::npos);
}

TEST(SigV4Verify, TwoAuthorizationHeadersRejected) {
  HttpRequest r = Signed();
  r.headers.push_back(
      *std::find_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "Authorization"; }));
  ExpectError(VerifyRequest(r, Keys(), kNow), "IncompleteSignatureException", 400);
}

TEST(SigV4Verify, DateHeaderAcceptedInsteadOfAmzDate) {
  HttpRequest r = ApiRequest();
  r.headers.emplace_back("Date", "Sun, 30 Aug 2015 12:36:00 GMT");
  std::vector<std::string> names = HeaderNames(r);
  const std::string canonical = CanonicalRequest(r, names, BodyHash(r));
  const std::string key = DeriveSigningKey(kCreds.secret_access_key, "20150830", "us-east-1", "ecs");
  const std::string sig =
      Hex(crypto::HmacSha256(key, StringToSign("20150830T123600Z", "20150830/us-east-1/ecs/aws4_request", canonical)));
  r.headers.emplace_back("Authorization",
                         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, "
                         "SignedHeaders=" +
                             Join(names, ";") + ", Signature=" + sig);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
  ExpectError(VerifyRequest(r, Keys(), kNow + 3600), "InvalidSignatureException", 403);
}

TEST(SigV4Verify, ContentSha256MustMatchBody) {
  HttpRequest r = ApiRequest();
  r.headers.emplace_back("x-amz-content-sha256", BodyHash(r));
  SignRequest(r, kCreds, "us-east-1", "ecs", kNow);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kNow).ok());

  // A signer that states UNSIGNED-PAYLOAD signed correctly, but the body would be unauthenticated.
  HttpRequest unsigned_payload = ApiRequest();
  unsigned_payload.headers.emplace_back("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
  SignWithScope(unsigned_payload, "20150830T123600Z", "20150830");
  Result<VerifiedSignature> v = VerifyRequest(unsigned_payload, Keys(), kNow);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

// ---- presigned requests ---------------------------------------------------------------------

HttpRequest Presigned(std::int64_t expires = 300, const Credentials& creds = kCreds, std::string target = "/ws?x=1") {
  HttpRequest r;
  r.method = "GET";
  r.target = std::move(target);
  r.headers = {{"Host", "gateway.example.com"}};
  PresignRequest(r, creds, "us-east-1", "ssmmessages", kNow, expires);
  return r;
}

void RemoveQueryParam(HttpRequest& r, std::string_view key) {
  std::string prefix = std::string(key) + "=";
  size_t pos = r.target.find(prefix);
  ASSERT_NE(pos, std::string::npos);
  size_t end = r.target.find('&', pos);
  r.target.erase(pos - 1, end == std::string::npos ? std::string::npos : end - pos + 1);
}

TEST(SigV4Presigned, RoundTrip) {
  const Credentials creds{"AKIDEXAMPLE", kCreds.secret_access_key, "session/token+="};
  HttpRequest r = Presigned(300, creds);
  EXPECT_EQ(r.target.rfind("/ws?x=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&", 0), 0u) << r.target;
  EXPECT_NE(r.target.find("X-Amz-Security-Token=session%2Ftoken%2B%3D"), std::string::npos);
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow + 299);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->service, "ssmmessages");
  EXPECT_EQ(v->session_token, "session/token+=");
}

TEST(SigV4Presigned, RepresigningReplacesParameters) {
  HttpRequest r = Presigned();
  PresignRequest(r, kCreds, "us-east-1", "ssmmessages", kNow, 60);
  size_t count = 0;
  for (size_t pos = 0; (pos = r.target.find("X-Amz-Signature=", pos)) != std::string::npos; ++pos) ++count;
  EXPECT_EQ(count, 1u);
  EXPECT_NE(r.target.find("X-Amz-Expires=60&"), std::string::npos);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
}

TEST(SigV4Presigned, ExpiredRejected) {
  Result<VerifiedSignature> v = VerifyRequest(Presigned(300), Keys(), kNow + 301);
  ExpectError(v, "InvalidSignatureException", 403);
  EXPECT_EQ(v.error().message,
            "Signature expired: the presigned request was valid until 20150830T124100Z (20150830T123600Z + 300 s); "
            "it is now 20150830T124101Z.");
}

TEST(SigV4Presigned, NotYetCurrentRejected) {
  ExpectError(VerifyRequest(Presigned(300), Keys(), kNow - 301), "InvalidSignatureException", 403);
}

TEST(SigV4Presigned, MissingExpiresRejected) {
  HttpRequest r = Presigned();
  RemoveQueryParam(r, "X-Amz-Expires");
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_NE(v.error().message.find("missing: X-Amz-Expires."), std::string::npos) << v.error().message;
}

TEST(SigV4Presigned, OversizedExpiresRejected) {
  // Correctly signed with X-Amz-Expires=604801: refused for the value, not the signature.
  HttpRequest r;
  r.method = "GET";
  r.headers = {{"Host", "gateway.example.com"}};
  r.target =
      "/ws?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fecs%2F"
      "aws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=604801";
  const std::string canonical = CanonicalRequest(r, {"host"}, BodyHash(r));
  const std::string key = DeriveSigningKey(kCreds.secret_access_key, "20150830", "us-east-1", "ecs");
  r.target +=
      "&X-Amz-Signature=" +
      Hex(crypto::HmacSha256(key, StringToSign("20150830T123600Z", "20150830/us-east-1/ecs/aws4_request", canonical)));
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "X-Amz-Expires must be less than a week (in seconds) that is 604800");

  // The same request with 604800 passes.
  std::string ok_target = r.target.substr(0, r.target.find("604801")) + "604800";
  HttpRequest ok = r;
  ok.target = ok_target;
  const std::string ok_canonical = CanonicalRequest(ok, {"host"}, BodyHash(ok));
  ok.target += "&X-Amz-Signature=" +
               Hex(crypto::HmacSha256(
                   key, StringToSign("20150830T123600Z", "20150830/us-east-1/ecs/aws4_request", ok_canonical)));
  EXPECT_TRUE(VerifyRequest(ok, Keys(), kNow).ok());
}

TEST(SigV4Presigned, CallerMaximumEnforced) {
  VerifyOptions options;
  options.max_presign_expires_seconds = 60;
  Result<VerifiedSignature> v = VerifyRequest(Presigned(300), Keys(), kNow, options);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "X-Amz-Expires must be at most 60 seconds.");
  EXPECT_TRUE(VerifyRequest(Presigned(60), Keys(), kNow, options).ok());
}

TEST(SigV4Presigned, TamperedQueryRejected) {
  HttpRequest r = Presigned();
  r.target.replace(r.target.find("x=1"), 3, "x=2");
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);

  HttpRequest longer = Presigned(300);
  longer.target.replace(longer.target.find("X-Amz-Expires=300"), 17, "X-Amz-Expires=600");
  ExpectError(VerifyRequest(longer, Keys(), kNow), "InvalidSignatureException", 403);
}

TEST(SigV4Presigned, HeaderAndQueryAuthTogetherRejected) {
  HttpRequest r = Presigned();
  r.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=x");
  ExpectError(VerifyRequest(r, Keys(), kNow), "IncompleteSignatureException", 400);
}

TEST(SigV4Presigned, OversizedTargetRejected) {
  HttpRequest r = Presigned(300, kCreds, "/ws?pad=" + std::string(20000, 'a'));
  ExpectError(VerifyRequest(r, Keys(), kNow), "IncompleteSignatureException", 400);
}

// A presigned request built by hand, with a signature valid for exactly these parameters
// and headers, so a rejection can only come from the rule under test.
HttpRequest PresignedByHand(std::string_view expires, const std::vector<std::string>& signed_headers = {"host"},
                            std::vector<std::pair<std::string, std::string>> headers = {
                                {"Host", "gateway.example.com"}}) {
  HttpRequest r;
  r.method = "GET";
  r.headers = std::move(headers);
  r.target =
      "/ws?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fecs%2F"
      "aws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=" +
      Encode(Join(signed_headers, ";")) + "&X-Amz-Expires=" + Encode(expires);
  const std::string canonical = CanonicalRequest(r, signed_headers, BodyHash(r));
  const std::string key = DeriveSigningKey(kCreds.secret_access_key, "20150830", "us-east-1", "ecs");
  r.target +=
      "&X-Amz-Signature=" +
      Hex(crypto::HmacSha256(key, StringToSign("20150830T123600Z", "20150830/us-east-1/ecs/aws4_request", canonical)));
  return r;
}

TEST(SigV4Presigned, ExpiresOutOfRangeOrNotANumberRejected) {
  ASSERT_TRUE(VerifyRequest(PresignedByHand("60"), Keys(), kNow).ok());
  for (const char* bad : {"0", "000", "", "-1", "+60", "60s", "1.5", "1e3", " 60", "0x3c"}) {
    SCOPED_TRACE(bad);
    Result<VerifiedSignature> v = VerifyRequest(PresignedByHand(bad), Keys(), kNow);
    ExpectError(v, "IncompleteSignatureException", 400);
    if (!v.ok()) {
      EXPECT_EQ(v.error().message, "X-Amz-Expires must be a whole number of seconds, at least 1.");
    }
  }
  for (const char* over : {"604801", "9999999", "10000000", "99999999999999999999999999"}) {
    SCOPED_TRACE(over);
    Result<VerifiedSignature> v = VerifyRequest(PresignedByHand(over), Keys(), kNow);
    ExpectError(v, "IncompleteSignatureException", 400);
    if (!v.ok()) {
      EXPECT_EQ(v.error().message, "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    }
  }
  EXPECT_TRUE(VerifyRequest(PresignedByHand("604800"), Keys(), kNow).ok());
}

TEST(SigV4Presigned, CallerMaximumCannotRaiseTheWeek) {
  VerifyOptions options;
  options.max_presign_expires_seconds = 10 * 604800;
  Result<VerifiedSignature> v = VerifyRequest(PresignedByHand("604801"), Keys(), kNow, options);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "X-Amz-Expires must be less than a week (in seconds) that is 604800");

  options.max_presign_expires_seconds = 60;
  v = VerifyRequest(PresignedByHand("99999999999"), Keys(), kNow, options);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "X-Amz-Expires must be at most 60 seconds.");
}

TEST(SigV4Presigned, HostMustBeSigned) {
  HttpRequest r = PresignedByHand("60", {"x-custom"}, {{"Host", "gateway.example.com"}, {"X-Custom", "v"}});
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
}

TEST(SigV4Presigned, UnsignedAmzHeaderRejected) {
  // The X-Amz-* query parameters are signed as part of the query; x-amz-* headers sent
  // alongside must be listed in X-Amz-SignedHeaders like any other.
  for (const char* name : {"X-Amz-Target", "x-amz-foo", "X-Amz-Date"}) {
    SCOPED_TRACE(name);
    HttpRequest r = Presigned();
    ASSERT_TRUE(VerifyRequest(r, Keys(), kNow).ok());
    r.headers.emplace_back(name, "added-after-signing");
    Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
    ExpectError(v, "IncompleteSignatureException", 400);
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    EXPECT_EQ(v.error().message, UnsignedHeaderMessage(lower));
  }
}

TEST(SigV4Presigned, PresignRequestSignsEveryHeaderPresent) {
  HttpRequest r;
  r.method = "POST";
  r.target = "/";
  r.headers = {{"Host", "ecs.us-east-1.amazonaws.com"},
               {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ExecuteCommand"}};
  PresignRequest(r, kCreds, "us-east-1", "ecs", kNow, 60);
  EXPECT_NE(r.target.find("X-Amz-SignedHeaders=host%3Bx-amz-target&"), std::string::npos) << r.target;
  Result<VerifiedSignature> v = VerifyRequest(r, Keys(), kNow);
  ASSERT_TRUE(v.ok()) << v.error().code << ": " << v.error().message;

  SetHeader(r, "X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster");
  ExpectError(VerifyRequest(r, Keys(), kNow), "InvalidSignatureException", 403);
}

TEST(SigV4Presigned, RefusedWhenNotAllowed) {
  int lookups = 0;
  KeyLookup counting = [&lookups, keys = Keys()](std::string_view akid) {
    ++lookups;
    return keys(akid);
  };
  VerifyOptions options;
  options.allow_presigned = false;
  Result<VerifiedSignature> v = VerifyRequest(Presigned(), counting, kNow, options);
  ExpectError(v, "IncompleteSignatureException", 400);
  EXPECT_EQ(v.error().message, "Presigned requests are not accepted for this operation.");
  EXPECT_EQ(lookups, 0) << "refused before the key is looked up";

  // Allowed by default, and by the three-argument overload.
  EXPECT_TRUE(VerifyRequest(Presigned(), counting, kNow, VerifyOptions{}).ok());
  EXPECT_TRUE(VerifyRequest(Presigned(), counting, kNow).ok());
}

}  // namespace
}  // namespace porthole::auth
