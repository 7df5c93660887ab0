#include "cli/plugin_mode.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/session_client.h"
#include "common/aws_config.h"
#include "net/aws_json_client.h"

namespace porthole::cli {
using Json = nlohmann::json;

namespace {

// The plugin release whose protocol this implements; newer AWS CLIs compare it
// with 1.2.497.0 to choose the AWS_SSM_START_SESSION_RESPONSE form.
constexpr const char* kPluginProtocolVersion = "1.2.677.0";

// Go's json.Unmarshal matches keys case-insensitively; so do we.
std::string Member(const Json& j, const std::string& name) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key().size() != name.size() || !it.value().is_string()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; i++) same = tolower(it.key()[i]) == tolower(name[i]);
    if (same) return it.value().get<std::string>();
  }
  return "";
}

// Trust: AWS_CA_BUNDLE (or the profile's ca_bundle), else SSL_CERT_FILE, else the system roots.
std::string CaBundlePath(const std::string& profile) {
  ResolveOptions resolve;
  if (!profile.empty()) resolve.profile = profile;
  resolve.require_credentials = false;
  resolve.require_region = false;
  if (auto settings = ResolveAwsSettings(resolve); settings && !settings->ca_bundle.empty())
    return settings->ca_bundle;
  if (const char* f = std::getenv("SSL_CERT_FILE"); f && *f) return f;
  return "";
}

}  // namespace

int RunPluginMode(int argc, char** argv) {
  if (argc == 1) {
    std::printf("\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n");
    return 0;
  }
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::printf("%s\n", kPluginProtocolVersion);
    return 0;
  }
  if (argc < 4) {
    std::printf("\nUnknown operation %s. \nUse session-manager-plugin --version to check the version.\n\n", argv[1]);
    return 0;
  }
  if (std::string(argv[3]) != "StartSession") {
    std::printf("Invalid Operation\n");
    return 0;
  }
  if (argc < 7) {
    std::fprintf(stderr, "session-manager-plugin: expected 6 arguments: session region StartSession profile "
                         "parameters endpoint\n");
    return 2;
  }
  std::string session_text = argv[1];
  if (session_text == "AWS_SSM_START_SESSION_RESPONSE") {
    const char* v = std::getenv("AWS_SSM_START_SESSION_RESPONSE");
    session_text = v ? v : "";
    ::unsetenv("AWS_SSM_START_SESSION_RESPONSE");
  }
  Json session = Json::parse(session_text, nullptr, false);
  Json parameters = Json::parse(argv[5], nullptr, false);
  if (!session.is_object() || !parameters.is_object() || !parameters.contains("Target") ||
      !parameters["Target"].is_string()) {
    std::fprintf(stderr, "session-manager-plugin: the session response and parameters must be JSON objects "
                         "with a Target\n");
    return 2;
  }
  SessionGrantView grant{Member(session, "SessionId"), Member(session, "StreamUrl"), Member(session, "TokenValue")};
  if (grant.session_id.empty() || grant.stream_url.empty() || grant.token_value.empty()) {
    std::fprintf(stderr, "session-manager-plugin: the session response lacks SessionId, StreamUrl or TokenValue\n");
    return 2;
  }
  auto ca = net::ReadCaBundle(CaBundlePath(argv[4]));
  if (!ca) {
    std::fprintf(stderr, "session-manager-plugin: %s\n", ca.error().message.c_str());
    return 2;
  }
  auto tls = net::TlsContext::ForClient(*ca);
  if (!tls) {
    std::fprintf(stderr, "session-manager-plugin: %s\n", tls.error().message.c_str());
    return 2;
  }
  std::printf("\nStarting session with SessionId: %s\n", grant.session_id.c_str());
  std::fflush(stdout);
  SessionClientOptions options;
  options.print_banner = false;
  // Reconnects call ResumeSession on the endpoint the AWS CLI passed (argv[6]), signed as "ssm".
  ResolveOptions resolve;
  if (*argv[4]) resolve.profile = argv[4];
  if (*argv[2]) resolve.region = argv[2];
  resolve.endpoint_url = argv[6];
  auto settings = ResolveAwsSettings(resolve);
  auto endpoint = net::ParseUrl(argv[6]);
  if (settings && endpoint) {
    net::AwsJsonClient ssm(*endpoint, {settings->access_key_id, settings->secret_access_key, settings->session_token},
                           settings->region, "ssm", *tls);
    options.resume = ResumeThrough(ssm, grant.session_id);
  }
  int code = RunSession(grant, *tls, options);
  std::printf("\n\nExiting session with sessionId: %s.\n\n", grant.session_id.c_str());
  return code;
}

}  // namespace porthole::cli
