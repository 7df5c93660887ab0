#include "daemon/portholed.h"

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/control_plane.h"
#include "common/aws_config.h"
#include "common/data_dir_lock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "gateway/gateway.h"
#include "net/https_server.h"
#include "net/tls.h"
#include "store/store.h"

namespace porthole::daemon {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// The account id and region are chosen once and never change.
Result<Json> LoadOrCreateIdentity(const fs::path& dir, const std::string& region) {
  fs::path path = dir / "porthole.json";
  if (auto text = ReadFile(path.string())) {
    Json j = Json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.contains("accountId") || !j.contains("region"))
      return MakeError("ConfigError", path.string() + " is not valid", 500);
    return j;
  }
  std::string digits;
  for (unsigned char c : crypto::RandomBytes(12)) digits.push_back(static_cast<char>('0' + c % 10));
  if (digits[0] == '0') digits[0] = '1';
  Json j = {{"accountId", digits}, {"region", region}};
  Status s = WriteFileAtomic(path.string(), j.dump(2) + "\n", 0600);
  if (!s) return s.error();
  return j;
}

// The key that seals secrets in state.db; kept apart from it (0600), so a
// copy of the database alone reveals no secret key.
Result<std::string> LoadOrCreateMasterKey(const fs::path& dir) {
  fs::path path = dir / "master.key";
  if (auto key = ReadFile(path.string(), 64)) {
    if (key->size() != 32) return MakeError("ConfigError", path.string() + " is not a 32-byte key", 500);
    return *key;
  }
  std::string key = crypto::RandomBytes(32);
  Status s = WriteFileAtomic(path.string(), key, 0600);
  if (!s) return s.error();
  return key;
}

Status WriteAwsCliFiles(const fs::path& dir, const auth::Credentials& root, const std::string& region) {
  IniFile credentials = {{"default", {{"aws_access_key_id", root.access_key_id},
                                      {"aws_secret_access_key", root.secret_access_key}}}};
  IniFile config = {{"default", {{"region", region}, {"output", "json"}}}};
  Status s = WriteFileAtomic((dir / "credentials").string(), FormatIni(credentials), 0600);
  if (!s) return s;
  return WriteFileAtomic((dir / "config").string(), FormatIni(config), 0600);
}

}  // namespace

Status RunPortholed(const PortholedOptions& options, const std::function<void(const std::string& url)>& on_ready) {
  ::umask(077);  // the database and keys are the control plane's alone
  fs::path dir(options.data_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return MakeError("ConfigError", "cannot create data directory " + dir.string() + ": " + ec.message(), 500);
  ::chmod(dir.c_str(), 0700);
  auto lock = LockDataDir(dir.string(), "portholed");
  if (!lock) return lock.error();

  auto identity = LoadOrCreateIdentity(dir, options.region);
  if (!identity) return identity.error();
  std::vector<std::string> ips = {"127.0.0.1", "::1"};
  if (options.listen_host != "127.0.0.1" && options.listen_host != "::1" && options.listen_host != "0.0.0.0")
    ips.push_back(options.listen_host);
  Status certs = net::EnsureServerCertificates(dir.string(), ips, {"localhost"});
  if (!certs) return certs;
  auto tls = net::TlsContext::ForServer((dir / "server.pem").string(), (dir / "server.key").string());
  if (!tls) return tls.error();
  auto store = store::OpenSqliteStore((dir / "state.db").string());
  if (!store) return store.error();

  boost::asio::io_context ioc(1);
  api::ControlPlaneConfig config;
  auto master_key = LoadOrCreateMasterKey(dir);
  if (!master_key) return master_key.error();
  config.secret_key = *master_key;
  config.account_id = (*identity)["accountId"];
  config.region = (*identity)["region"];
  api::ControlPlane control_plane(ioc.get_executor(), **store, config);
  auto root = control_plane.EnsureRootCredentials();
  if (!root) return root.error();
  Status files = WriteAwsCliFiles(dir, *root, config.region);
  if (!files) return files;

  gateway::GatewayOptions gateway_options;
  gateway_options.max_sessions_per_container = options.sessions_per_container;
  gateway_options.stall_timeout = std::chrono::seconds(options.stall_timeout_seconds);
  gateway::Gateway gateway(ioc.get_executor(), control_plane, **store, gateway_options);
  control_plane.SetSessionBroker(&gateway);

  net::HttpsServerOptions server_options;
  server_options.host = options.listen_host;
  server_options.port = options.listen_port;
  server_options.websocket_paths = [](const std::string& target) { return gateway::Gateway::Serves(target); };
  auto server = net::HttpsServer::Bind(
      ioc.get_executor(), *tls, server_options,
      [&](net::HttpRequest request, net::RequestContext context) {
        return control_plane.Handle(std::move(request), std::move(context));
      },
      [&](net::HttpRequest request, net::RequestContext context,
          std::shared_ptr<net::WebSocket> ws) -> boost::asio::awaitable<void> {
        return gateway.HandleWebSocket(std::move(request), std::move(context), std::move(ws));
      });
  if (!server) return server.error();
  (*server)->Start();

  // The service scheduler: services back at their desired count every 2 s
  // (tasks that stopped are replaced, new deployments roll in).
  boost::asio::steady_timer scheduler(ioc);
  std::function<void()> schedule = [&] {
    scheduler.expires_after(std::chrono::seconds(2));
    scheduler.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      control_plane.ReconcileServices();
      schedule();
    });
  };
  schedule();

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signal) {
    log::Info("signal " + std::to_string(signal) + ": shutting down");
    (*server)->Stop();
    scheduler.cancel();
    ioc.stop();
  });

  std::string host = options.listen_host.find(':') != std::string::npos ? "[" + options.listen_host + "]"
                                                                          : options.listen_host;
  std::string url = "https://" + host + ":" + std::to_string((*server)->port());
  log::Info("account " + config.account_id + " region " + config.region + " listening on " + url);
  on_ready(url);
  ioc.run();
  return OkStatus();
}

}  // namespace porthole::daemon
