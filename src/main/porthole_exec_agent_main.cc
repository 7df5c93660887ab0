// porthole-exec-agent [--config PATH]
// Started by porthole-node inside a task's container (runc exec, as root).
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "agent/exec_agent.h"

extern char** environ;

int main(int argc, char** argv) {
  std::string config = "/managed-agents/execute-command/config/agent.json";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--version") {
      std::cout << "porthole-exec-agent " << PORTHOLE_VERSION << "\n";
      return 0;
    } else {
      std::cerr << "usage: porthole-exec-agent [--config PATH]\n";
      return 2;
    }
  }
  // Session commands get the container's environment plus TERM (as ECS does).
  std::vector<std::string> env;
  for (char** e = environ; *e; e++)
    if (std::strncmp(*e, "TERM=", 5) != 0) env.emplace_back(*e);
  env.emplace_back("TERM=xterm-256color");
  return porthole::agent::RunExecAgent(config, std::move(env));
}
