#pragma once
// TLS contexts and the private CA. Porthole always speaks TLS 1.2+; clients
// trust only the CA they are given (AWS_CA_BUNDLE / the data directory's ca.pem).
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace boost::asio::ssl {
class context;
}
typedef struct ssl_ctx_st SSL_CTX;

namespace porthole::net {

class TlsContext {
 public:
  // Server side: certificate chain and private key, both PEM files.
  static Result<std::shared_ptr<TlsContext>> ForServer(const std::string& cert_file, const std::string& key_file);
  // Client side: trust exactly the PEM certificates in `ca_pem` (contents, not a path).
  // An empty `ca_pem` trusts the system's default store.
  static Result<std::shared_ptr<TlsContext>> ForClient(const std::string& ca_pem);

  ~TlsContext();
  SSL_CTX* native_handle();

 private:
  TlsContext();
  std::unique_ptr<boost::asio::ssl::context> ctx_;
};

// Creates, if absent, a private CA (ca.pem, ca.key) and a server certificate
// signed by it (server.pem, server.key) in `dir`, with subjectAltNames for
// `ip_addresses` and `dns_names`. Keys are written 0600. Existing files are
// kept as they are (a restart must not change what clients trust).
Status EnsureServerCertificates(const std::string& dir, const std::vector<std::string>& ip_addresses,
                                const std::vector<std::string>& dns_names);

}  // namespace porthole::net
