#pragma once
// A task's network through the CNI plugins (CNI spec 0.4.0; Debian's
// containernetworking-plugins): `loopback` brings lo up, `bridge` with
// `host-local` IPAM puts eth0 on the node's bridge with an address of its
// subnet (and masquerades its outbound traffic), `portmap` publishes host
// ports. Plugins are run as the spec says: the command in CNI_COMMAND, the
// configuration on stdin, the result (or {"code","msg"}) on stdout; a chain
// passes each plugin's result to the next as prevResult, and DEL runs the
// chain backwards.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace porthole::node {

struct PortMapping {
  uint16_t container_port = 0;
  uint16_t host_port = 0;  // chosen by the node before Add when the definition said 0
  std::string protocol = "tcp";  // "tcp" or "udp"
};

struct CniConfig {
  std::string plugin_dir = "/usr/lib/cni";
  std::string network_name = "porthole";  // in iptables comments and IPAM state
  std::string bridge = "porthole0";       // at most 15 bytes
  std::string subnet = "10.213.0.0/16";   // IPv4 CIDR; .1 is the bridge's
  // host-local's state: addresses are the bridge's, so nodes sharing one
  // (several on a host) must share this too; host-local locks it.
  std::string ipam_dir;
};

// Where a task's eth0 landed.
struct CniAttachment {
  std::string address;  // IPv4, without the prefix length
  int prefix_length = 0;
  std::string gateway;
  std::string mac;      // of eth0 inside the namespace
};

// Checks `config` (names, CIDR); error "InvalidParameterException".
Status ValidateCniConfig(const CniConfig& config);

// The plugin configurations, in chain order, for a task publishing `ports`
// (no portmap when empty).
std::vector<nlohmann::json> CniChain(const CniConfig& config, const std::vector<PortMapping>& ports);

// Runs one plugin of `config.plugin_dir`. Error code "CniError" with the
// plugin's own message.
Result<nlohmann::json> InvokeCniPlugin(const CniConfig& config, const std::string& command,
                                       const std::string& container_id, const std::string& netns_path,
                                       const nlohmann::json& plugin_config);

// ADD: lo, then the chain into `netns_path` as eth0. On failure whatever part
// of the chain succeeded is deleted again.
Result<CniAttachment> CniAdd(const CniConfig& config, const std::string& container_id,
                             const std::string& netns_path, const std::vector<PortMapping>& ports);

// DEL, chain reversed; idempotent, and works when the namespace is already
// gone (it releases the address and removes the rules). The first error is
// returned after every plugin has been run.
Status CniDel(const CniConfig& config, const std::string& container_id, const std::string& netns_path,
              const std::vector<PortMapping>& ports);

}  // namespace porthole::node
