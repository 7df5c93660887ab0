#include "node/cni.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace porthole::node {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A plugin directory of shell scripts standing in for the CNI plugins: each
// logs "<command> <type> <container> <ifname> <netns>", keeps its stdin in
// <type>.<command>.json, and prints what <type>.result holds (exit status
// from <type>.status, default 0).
class FakePlugins {
 public:
  FakePlugins() {
    char tmpl[] = "/tmp/cni-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    for (const char* type : {"loopback", "bridge", "portmap"}) {
      const std::string script = dir_ + "/" + type;
      std::ofstream(script) << "#!/bin/sh\n"
                            << "d=$(dirname \"$0\"); t=$(basename \"$0\")\n"
                            << "echo \"$CNI_COMMAND $t $CNI_CONTAINERID $CNI_IFNAME $CNI_NETNS\" >> \"$d/log\"\n"
                            << "cat > \"$d/$t.$CNI_COMMAND.json\"\n"
                            << "[ -f \"$d/$t.result\" ] && cat \"$d/$t.result\"\n"
                            << "[ -f \"$d/$t.status\" ] && exit $(cat \"$d/$t.status\")\n"
                            << "exit 0\n";
      ::chmod(script.c_str(), 0755);
    }
    Result("loopback", R"({"cniVersion":"0.4.0","interfaces":[{"name":"lo"}]})");
    Result("bridge", kBridgeResult);
    Result("portmap", kBridgeResult);  // a chained plugin passes its prevResult on
  }
  ~FakePlugins() { fs::remove_all(dir_); }

  void Result(const std::string& type, const std::string& json) { std::ofstream(dir_ + "/" + type + ".result") << json; }
  void Fail(const std::string& type, const std::string& json) {
    Result(type, json);
    std::ofstream(dir_ + "/" + type + ".status") << "1";
  }
  std::string Log() const { return ReadAll(dir_ + "/log"); }
  Json Input(const std::string& type, const std::string& command) const {
    return Json::parse(ReadAll(dir_ + "/" + type + "." + command + ".json"), nullptr, false);
  }
  CniConfig Config() const {
    CniConfig c;
    c.plugin_dir = dir_;
    c.ipam_dir = dir_ + "/ipam";
    c.bridge = "ptunit0";
    c.subnet = "10.99.0.0/24";
    c.network_name = "porthole-ptunit0";
    return c;
  }

  static constexpr const char* kBridgeResult = R"({"cniVersion":"0.4.0",
    "interfaces":[{"name":"ptunit0","mac":"aa:aa:aa:aa:aa:aa"},{"name":"veth1","mac":"bb:bb:bb:bb:bb:bb"},
                  {"name":"eth0","mac":"02:42:0a:63:00:05","sandbox":"/ns"}],
    "ips":[{"version":"4","interface":2,"address":"10.99.0.5/24","gateway":"10.99.0.1"}]})";

 private:
  std::string dir_;
};

TEST(CniTest, AddRunsLoopbackThenTheChainPassingEachResultOn) {
  FakePlugins plugins;
  std::vector<PortMapping> ports = {{80, 49200, "tcp"}, {53, 5353, "udp"}};
  auto added = CniAdd(plugins.Config(), "task1", "/ns", ports);
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_EQ(added->address, "10.99.0.5");
  EXPECT_EQ(added->prefix_length, 24);
  EXPECT_EQ(added->gateway, "10.99.0.1");
  EXPECT_EQ(added->mac, "02:42:0a:63:00:05");  // eth0's, the interface the address is on
  EXPECT_EQ(plugins.Log(),
            "ADD loopback task1 lo /ns\n"
            "ADD bridge task1 eth0 /ns\n"
            "ADD portmap task1 eth0 /ns\n");

  Json bridge = plugins.Input("bridge", "ADD");
  EXPECT_EQ(bridge["cniVersion"], "0.4.0");
  EXPECT_EQ(bridge["name"], "porthole-ptunit0");
  EXPECT_EQ(bridge["bridge"], "ptunit0");
  EXPECT_EQ(bridge["ipMasq"], true);
  EXPECT_EQ(bridge["ipam"]["type"], "host-local");
  EXPECT_EQ(bridge["ipam"]["subnet"], "10.99.0.0/24");
  EXPECT_FALSE(bridge.contains("prevResult"));

  Json portmap = plugins.Input("portmap", "ADD");
  EXPECT_EQ(portmap["prevResult"], Json::parse(FakePlugins::kBridgeResult));
  EXPECT_EQ(portmap["runtimeConfig"]["portMappings"],
            Json::parse(R"([{"hostPort":49200,"containerPort":80,"protocol":"tcp"},
                            {"hostPort":5353,"containerPort":53,"protocol":"udp"}])"));
}

TEST(CniTest, NoPortsNoPortmap) {
  FakePlugins plugins;
  ASSERT_TRUE(CniAdd(plugins.Config(), "task1", "/ns", {}).ok());
  EXPECT_EQ(plugins.Log().find("portmap"), std::string::npos) << plugins.Log();
}

TEST(CniTest, AFailedAddSaysThePluginsWordsAndUndoesTheChain) {
  FakePlugins plugins;
  plugins.Fail("portmap", R"({"cniVersion":"0.4.0","code":7,"msg":"failed to add rule","details":"iptables: busy"})");
  auto added = CniAdd(plugins.Config(), "task1", "/ns", {{80, 49200, "tcp"}});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, "CniError");
  EXPECT_EQ(added.error().message, "portmap ADD: failed to add rule: iptables: busy");
  // DEL, chain reversed, after the failure.
  std::string log = plugins.Log();
  size_t del_portmap = log.find("DEL portmap"), del_bridge = log.find("DEL bridge");
  ASSERT_NE(del_portmap, std::string::npos) << log;
  ASSERT_NE(del_bridge, std::string::npos) << log;
  EXPECT_LT(del_portmap, del_bridge) << log;
}

TEST(CniTest, AnAddressIsRequired) {
  FakePlugins plugins;
  plugins.Result("bridge", R"({"cniVersion":"0.4.0","interfaces":[],"ips":[]})");
  auto added = CniAdd(plugins.Config(), "task1", "/ns", {});
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("no IPv4 address"), std::string::npos);
}

TEST(CniTest, DelRunsEveryPluginBackwardsAndReportsTheFirstError) {
  FakePlugins plugins;
  plugins.Fail("portmap", R"({"code":11,"msg":"gone"})");
  Status s = CniDel(plugins.Config(), "task1", "", {{80, 49200, "tcp"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "portmap DEL: gone");
  EXPECT_EQ(plugins.Log(), "DEL portmap task1 eth0 \nDEL bridge task1 eth0 \n");
}

TEST(CniTest, AMissingPluginNamesThePackage) {
  FakePlugins plugins;
  CniConfig config = plugins.Config();
  config.plugin_dir = "/nonexistent";
  auto added = CniAdd(config, "task1", "/ns", {});
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("containernetworking-plugins"), std::string::npos);
}

TEST(CniTest, ConfigIsValidated) {
  FakePlugins plugins;
  EXPECT_TRUE(ValidateCniConfig(plugins.Config()).ok());
  auto with = [&](auto change) {
    CniConfig c = plugins.Config();
    change(c);
    return ValidateCniConfig(c).ok();
  };
  EXPECT_FALSE(with([](CniConfig& c) { c.bridge = "a-bridge-name-too-long"; }));
  EXPECT_FALSE(with([](CniConfig& c) { c.bridge = "br;rm -rf"; }));
  EXPECT_FALSE(with([](CniConfig& c) { c.subnet = "10.0.0.0"; }));
  EXPECT_FALSE(with([](CniConfig& c) { c.subnet = "10.0.0.0/30"; }));
  EXPECT_FALSE(with([](CniConfig& c) { c.subnet = "fd00::/64"; }));
  EXPECT_FALSE(with([](CniConfig& c) { c.ipam_dir = "relative"; }));
}

}  // namespace
}  // namespace porthole::node
