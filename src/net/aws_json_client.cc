#include "net/aws_json_client.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "net/https_client.h"

namespace porthole::net {

AwsJsonClient::AwsJsonClient(Url endpoint, auth::Credentials credentials, std::string region, std::string service,
                             std::shared_ptr<TlsContext> tls)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), region_(std::move(region)),
      service_(std::move(service)), tls_(std::move(tls)) {}

HttpRequest AwsJsonClient::BuildRequest(const std::string& target, const nlohmann::json& input) const {
  HttpRequest request;
  request.method = "POST";
  request.target = endpoint_.target.empty() ? "/" : endpoint_.target;
  request.body = input.dump();
  request.headers.emplace_back("Host", endpoint_.HostHeader());
  request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  request.headers.emplace_back("X-Amz-Target", target);
  auth::Credentials credentials;
  {
    std::lock_guard<std::mutex> lock(*credentials_mu_);
    credentials = credentials_;
  }
  if (!credentials.access_key_id.empty())
    auth::SignRequest(request, credentials, region_, service_, std::time(nullptr));
  return request;
}

Result<nlohmann::json> AwsJsonClient::ParseResponse(const HttpResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body.empty() ? std::string("{}") : response.body, nullptr, false);
  if (response.status / 100 != 2) {
    std::string type = "UnknownError";
    std::string message = "HTTP " + std::to_string(response.status);
    if (body.is_object()) {
      type = body.value("__type", type);
      message = body.value("message", body.value("Message", message));
    }
    if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
    return MakeError(type, message, response.status);
  }
  if (body.is_discarded()) return MakeError("SerializationException", "The response is not JSON.", 500);
  return body;
}

Result<nlohmann::json> AwsJsonClient::Call(const std::string& target, const nlohmann::json& input,
                                           std::chrono::seconds timeout, const std::atomic<bool>* cancel) const {
  auto response = HttpsRequestSync(endpoint_, BuildRequest(target, input), tls_, timeout, cancel);
  if (!response) return response.error();
  return ParseResponse(*response);
}

Result<std::string> ReadCaBundle(const std::string& path) {
  if (path.empty()) return std::string();
  auto text = ReadFile(path, 16 * 1024 * 1024);
  if (!text) return MakeError("ConfigError", "cannot read CA bundle " + path);
  return *text;
}

}  // namespace porthole::net
