#include "node/cni.h"

#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "node/subprocess.h"

namespace porthole::node {
namespace {

using Json = nlohmann::json;

constexpr const char kCniVersion[] = "0.4.0";
constexpr const char kInterface[] = "eth0";

Error Invalid(std::string message) { return MakeError("InvalidParameterException", std::move(message)); }
Error CniError(std::string message) { return MakeError("CniError", std::move(message), 500); }

bool IsSimpleName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

// The plugin's message from a CNI error result (or its stderr).
std::string PluginMessage(const SubprocessResult& r) {
  Json j = Json::parse(r.out, nullptr, false);
  if (j.is_object() && j.contains("msg") && j["msg"].is_string()) {
    std::string msg = j["msg"];
    if (j.contains("details") && j["details"].is_string() && !j["details"].get<std::string>().empty())
      msg += ": " + j["details"].get<std::string>();
    return msg;
  }
  std::string text = !r.err.empty() ? r.err : r.out;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.substr(0, 512);
}

std::string WithoutPrefix(const std::string& cidr, int* prefix) {
  size_t slash = cidr.find('/');
  if (prefix) *prefix = slash == std::string::npos ? 32 : std::atoi(cidr.c_str() + slash + 1);
  return cidr.substr(0, slash);
}

Json Header(const CniConfig& config) { return {{"cniVersion", kCniVersion}, {"name", config.network_name}}; }

}  // namespace

Status ValidateCniConfig(const CniConfig& config) {
  if (!IsSimpleName(config.network_name, 64)) return Invalid("network name \"" + config.network_name + "\" is invalid");
  if (!IsSimpleName(config.bridge, 15)) return Invalid("bridge \"" + config.bridge + "\" must be 1-15 characters of [A-Za-z0-9_.-]");
  int prefix = 0;
  std::string base = WithoutPrefix(config.subnet, &prefix);
  in_addr a;
  if (config.subnet.find('/') == std::string::npos || ::inet_pton(AF_INET, base.c_str(), &a) != 1 || prefix < 8 ||
      prefix > 28)
    return Invalid("bridge subnet \"" + config.subnet + "\" must be an IPv4 CIDR between /8 and /28");
  if (config.plugin_dir.empty() || config.plugin_dir[0] != '/') return Invalid("CNI plugin directory must be absolute");
  if (config.ipam_dir.empty() || config.ipam_dir[0] != '/') return Invalid("IPAM directory must be absolute");
  return OkStatus();
}

std::vector<Json> CniChain(const CniConfig& config, const std::vector<PortMapping>& ports) {
  std::vector<Json> chain;
  Json bridge = Header(config);
  bridge["type"] = "bridge";
  bridge["bridge"] = config.bridge;
  bridge["isGateway"] = true;
  bridge["ipMasq"] = true;
  bridge["hairpinMode"] = true;  // a task reaches its own published ports
  bridge["ipam"] = {{"type", "host-local"},
                    {"subnet", config.subnet},
                    {"routes", Json::array({{{"dst", "0.0.0.0/0"}}})},
                    {"dataDir", config.ipam_dir}};
  chain.push_back(bridge);
  if (!ports.empty()) {
    Json portmap = Header(config);
    portmap["type"] = "portmap";
    portmap["snat"] = true;
    portmap["capabilities"] = {{"portMappings", true}};
    Json mappings = Json::array();
    for (const auto& p : ports)
      mappings.push_back({{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}});
    portmap["runtimeConfig"] = {{"portMappings", mappings}};
    chain.push_back(portmap);
  }
  return chain;
}

Result<Json> InvokeCniPlugin(const CniConfig& config, const std::string& command, const std::string& container_id,
                             const std::string& netns_path, const Json& plugin_config) {
  const std::string type = plugin_config.value("type", "");
  if (!IsSimpleName(type, 64)) return CniError("invalid CNI plugin type \"" + type + "\"");
  const std::string plugin = config.plugin_dir + "/" + type;
  if (::access(plugin.c_str(), X_OK) != 0)
    return CniError("the CNI plugin " + plugin + " is not installed (install containernetworking-plugins)");
  // The configuration goes in on stdin from an anonymous file: no pipe to
  // keep drained while the plugin runs.
  int in = ::memfd_create("cni-config", MFD_CLOEXEC);
  if (in < 0) return CniError("memfd_create failed");
  const std::string text = plugin_config.dump();
  bool written = ::write(in, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::lseek(in, 0, SEEK_SET) == 0;
  if (!written) {
    ::close(in);
    return CniError("cannot pass the configuration to " + type);
  }
  SubprocessOptions options;
  options.stdin_fd = in;
  options.timeout = std::chrono::seconds(60);
  options.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "CNI_COMMAND=" + command,
                 "CNI_CONTAINERID=" + container_id,
                 "CNI_NETNS=" + netns_path,
                 std::string("CNI_IFNAME=") + (type == "loopback" ? "lo" : kInterface),
                 "CNI_PATH=" + config.plugin_dir};
  auto r = RunSubprocess({plugin}, options);
  ::close(in);
  if (!r) return r.error();
  if (r->exit_code != 0) return CniError(type + " " + command + ": " + PluginMessage(*r));
  if (command != "ADD") return Json::object();
  Json result = Json::parse(r->out, nullptr, false);
  if (!result.is_object()) return CniError(type + " ADD: unreadable result");
  return result;
}

Result<CniAttachment> CniAdd(const CniConfig& config, const std::string& container_id, const std::string& netns_path,
                             const std::vector<PortMapping>& ports) {
  PORTHOLE_TRY(ValidateCniConfig(config));
  Json loopback = Header(config);
  loopback["type"] = "loopback";
  PORTHOLE_TRY(InvokeCniPlugin(config, "ADD", container_id, netns_path, loopback));
  Json previous;
  for (Json plugin : CniChain(config, ports)) {
    if (!previous.is_null()) plugin["prevResult"] = previous;
    auto r = InvokeCniPlugin(config, "ADD", container_id, netns_path, plugin);
    if (!r) {
      (void)CniDel(config, container_id, netns_path, ports);  // the spec allows DEL after a partial ADD
      return r.error();
    }
    previous = *r;
  }
  CniAttachment out;
  const Json& interfaces = previous.value("interfaces", Json::array());
  for (const auto& ip : previous.value("ips", Json::array())) {
    if (!ip.is_object() || ip.value("version", "") != "4") continue;
    out.address = WithoutPrefix(ip.value("address", ""), &out.prefix_length);
    out.gateway = ip.value("gateway", "");
    size_t index = ip.value("interface", 0);
    if (interfaces.is_array() && index < interfaces.size()) out.mac = interfaces[index].value("mac", "");
    break;
  }
  if (out.address.empty()) {
    (void)CniDel(config, container_id, netns_path, ports);
    return CniError("the bridge plugin assigned no IPv4 address");
  }
  return out;
}

Status CniDel(const CniConfig& config, const std::string& container_id, const std::string& netns_path,
              const std::vector<PortMapping>& ports) {
  PORTHOLE_TRY(ValidateCniConfig(config));
  std::optional<Error> first;
  auto chain = CniChain(config, ports);
  std::reverse(chain.begin(), chain.end());
  for (const auto& plugin : chain) {
    auto r = InvokeCniPlugin(config, "DEL", container_id, netns_path, plugin);
    if (!r && !first) first = r.error();
  }
  if (first) return *first;
  return OkStatus();
}

}  // namespace porthole::node
