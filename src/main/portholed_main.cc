// portholed --data-dir DIR --listen HOST:PORT
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "daemon/portholed.h"

int main(int argc, char** argv) {
  CLI::App app{"portholed: the Porthole control plane (ECS API subset and message gateway)"};
  std::string data_dir = "porthole-data";
  std::string listen = "127.0.0.1:8443";
  std::string region = "us-east-1";
  app.add_option("--data-dir", data_dir, "state, certificates and credentials")->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  app.add_option("--region", region, "region chosen on first start")->capture_default_str();
  size_t sessions_per_container = 10;
  app.add_option("--sessions-per-container", sessions_per_container,
                 "concurrent sessions allowed per container (ExecuteCommand and StartSession alike)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  unsigned stall_timeout = 60;
  app.add_option("--stall-timeout", stall_timeout,
                 "seconds a session's client or agent may accept no data before the session is ended")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  CLI11_PARSE(app, argc, argv);
  porthole::log::SetProgram("portholed");

  porthole::daemon::PortholedOptions options;
  options.data_dir = data_dir;
  options.region = region;
  options.sessions_per_container = sessions_per_container;
  options.stall_timeout_seconds = stall_timeout;
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "portholed: --listen must be HOST:PORT\n";
    return 2;
  }
  options.listen_host = listen.substr(0, colon);
  if (options.listen_host.size() > 2 && options.listen_host.front() == '[')
    options.listen_host = options.listen_host.substr(1, options.listen_host.size() - 2);
  try {
    options.listen_port = static_cast<uint16_t>(std::stoul(listen.substr(colon + 1)));
  } catch (...) {
    std::cerr << "portholed: invalid port in --listen\n";
    return 2;
  }
  auto status = porthole::daemon::RunPortholed(options, [](const std::string& url) {
    std::printf("ready %s\n", url.c_str());
    std::fflush(stdout);
  });
  if (!status) {
    std::cerr << "portholed: " << status.error().message << "\n";
    return 1;
  }
  return 0;
}
