#pragma once
// A SigV4-signing AWS JSON 1.1 client (blocking), for porthole-node and the CLI.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "common/result.h"
#include "net/http.h"
#include "net/tls.h"

namespace porthole::net {

class AwsJsonClient {
 public:
  AwsJsonClient(Url endpoint, auth::Credentials credentials, std::string region, std::string service,
                std::shared_ptr<TlsContext> tls);

  // POSTs `input` with X-Amz-Target `target`. An AWS error response becomes an
  // Error with its "__type" (namespace prefix removed), message and status.
  // `cancel`, when given and set, abandons the call (HttpsRequestSync).
  Result<nlohmann::json> Call(const std::string& target, const nlohmann::json& input,
                              std::chrono::seconds timeout = std::chrono::seconds(30),
                              const std::atomic<bool>* cancel = nullptr) const;

  // The signed request Call() would send (for callers with their own event loop).
  HttpRequest BuildRequest(const std::string& target, const nlohmann::json& input) const;
  static Result<nlohmann::json> ParseResponse(const HttpResponse& response);

  // The same endpoint and credentials, signing for another service (e.g. "ssm").
  AwsJsonClient ForService(std::string service) const {
    return AwsJsonClient(endpoint_, credentials_, region_, std::move(service), tls_);
  }

  const Url& endpoint() const { return endpoint_; }
  const std::string& region() const { return region_; }
  // Safe while other threads Call(): a node swaps in renewed credentials.
  void set_credentials(auth::Credentials c) {
    std::lock_guard<std::mutex> lock(*credentials_mu_);
    credentials_ = std::move(c);
  }

 private:
  Url endpoint_;
  std::shared_ptr<std::mutex> credentials_mu_ = std::make_shared<std::mutex>();
  auth::Credentials credentials_;  // empty access key id: requests go unsigned
  std::string region_;
  std::string service_;
  std::shared_ptr<TlsContext> tls_;
};

// Reads a PEM bundle file for TlsContext::ForClient ("" → system roots).
Result<std::string> ReadCaBundle(const std::string& path);

}  // namespace porthole::net
