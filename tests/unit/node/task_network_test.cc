#include "node/task_network.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "../temp_dir.h"

namespace porthole::node {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

TEST(TaskNetworkTest, ModeNames) {
  for (const char* name : {"bridge", "awsvpc", "host", "none"}) {
    auto mode = ParseNetworkMode(name);
    ASSERT_TRUE(mode) << name;
    EXPECT_EQ(NetworkModeName(*mode), name);
  }
  EXPECT_FALSE(ParseNetworkMode("nat"));
  EXPECT_FALSE(ParseNetworkMode(""));
}

TEST(TaskNetworkTest, RecordsRoundTrip) {
  TaskNetwork n;
  n.mode = NetworkMode::kAwsvpc;
  n.netns_path = "/var/lib/porthole/network/t1.netns";
  n.attachment = {"10.213.0.7", 16, "10.213.0.1", "02:00:00:00:00:07"};
  n.attachment_id = "8e0c6f3a-0000-4000-8000-000000000001";
  n.ports = {{"web", {80, 80, "tcp"}}, {"dns", {53, 53, "udp"}}};
  auto back = TaskNetworkFromJson(TaskNetworkToJson(n));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->mode, n.mode);
  EXPECT_EQ(back->netns_path, n.netns_path);
  EXPECT_EQ(back->attachment.address, "10.213.0.7");
  EXPECT_EQ(back->attachment.prefix_length, 16);
  EXPECT_EQ(back->attachment.mac, n.attachment.mac);
  EXPECT_EQ(back->attachment_id, n.attachment_id);
  ASSERT_EQ(back->ports.size(), 2u);
  EXPECT_EQ(back->ports[1].container, "dns");
  EXPECT_EQ(back->ports[1].mapping.protocol, "udp");
  // A damaged record is no record.
  EXPECT_FALSE(TaskNetworkFromJson(nlohmann::json::parse(R"({"mode":"bogus"})")));
  EXPECT_FALSE(TaskNetworkFromJson(nlohmann::json::parse(R"({"mode":"bridge","ports":[{"container":1}]})")));
  EXPECT_FALSE(TaskNetworkFromJson(nlohmann::json::array()));
}

// host and none need no plugins: what they record (host: the ports it
// holds, so bridge tasks do not take them) and what they do not.
TEST(TaskNetworkTest, HostTasksHoldTheirPortsAgainstOtherTasks) {
  TempDir dir;
  TaskNetworks networks(CniConfig{}, dir.path());
  auto host = networks.Setup("task1", NetworkMode::kHost, {{"web", {8080, 0, "tcp"}}});
  ASSERT_TRUE(host.ok()) << host.error().message;
  EXPECT_TRUE(host->netns_path.empty());
  ASSERT_EQ(host->ports.size(), 1u);
  EXPECT_EQ(host->ports[0].mapping.host_port, 8080);  // host mode: the container's own port
  auto loaded = networks.Load("task1");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->mode, NetworkMode::kHost);

  auto clash = networks.Setup("task2", NetworkMode::kBridge, {{"other", {80, 8080, "tcp"}}});
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, "ResourceInitializationError");
  EXPECT_NE(clash.error().message.find("8080/tcp is already published by another task"), std::string::npos)
      << clash.error().message;
  EXPECT_FALSE(networks.Load("task2"));  // nothing left of the refused one

  ASSERT_TRUE(networks.Teardown("task1").ok());
  EXPECT_FALSE(networks.Load("task1"));
  EXPECT_TRUE(networks.Teardown("task1").ok());  // idempotent
}

TEST(TaskNetworkTest, NoneRecordsNothing) {
  TempDir dir;
  TaskNetworks networks(CniConfig{}, dir.path());
  auto none = networks.Setup("task1", NetworkMode::kNone, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->netns_path.empty());  // runc makes the namespace
  EXPECT_FALSE(networks.Load("task1"));
}

TEST(TaskNetworkTest, SweepRemovesTheRecordsOfTasksThatAreGone) {
  TempDir dir;
  TaskNetworks networks(CniConfig{}, dir.path());
  ASSERT_TRUE(networks.Setup("live", NetworkMode::kHost, {{"a", {81, 0, "tcp"}}}).ok());
  ASSERT_TRUE(networks.Setup("gone", NetworkMode::kHost, {{"b", {82, 0, "tcp"}}}).ok());
  networks.Sweep({"live"});
  EXPECT_TRUE(networks.Load("live"));
  EXPECT_FALSE(networks.Load("gone"));
}

// A bridge task through stand-in plugins (a real namespace, a fake CNI):
// what awsvpc tasks publish is on their own addresses and does not hold the
// host's ports; the record carries what the plugins answered.
TEST(TaskNetworkTest, BridgeTasksThroughThePlugins) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
  TempDir dir;
  const std::string plugins = dir.path() + "/plugins";
  fs::create_directories(plugins);
  for (const char* type : {"loopback", "bridge", "portmap"}) {
    std::ofstream(plugins + "/" + type)
        << "#!/bin/sh\ncat >/dev/null\n"
        << "[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\","
           "\"mac\":\"02:00:00:00:00:09\"}],\"ips\":[{\"version\":\"4\",\"interface\":0,"
           "\"address\":\"10.99.0.9/24\",\"gateway\":\"10.99.0.1\"}]}'\nexit 0\n";
    fs::permissions(plugins + "/" + type, fs::perms::owner_all);
  }
  CniConfig config;
  config.plugin_dir = plugins;
  config.bridge = "ptunit0";
  config.subnet = "10.99.0.0/24";
  TaskNetworks networks(config, dir.path() + "/network");
  fs::create_directories(dir.path() + "/network");
  TaskNetwork vpc;
  vpc.mode = NetworkMode::kAwsvpc;
  vpc.ports = {{"app", {8080, 8080, "tcp"}}};
  std::ofstream(dir.path() + "/network/vpc.json") << TaskNetworkToJson(vpc).dump();

  auto bridge = networks.Setup("web", NetworkMode::kBridge, {{"app", {80, 8080, "tcp"}}, {"app", {81, 0, "tcp"}}});
  ASSERT_TRUE(bridge.ok()) << bridge.error().message;
  EXPECT_EQ(bridge->attachment.address, "10.99.0.9");
  EXPECT_EQ(bridge->attachment.mac, "02:00:00:00:00:09");
  EXPECT_EQ(bridge->ports[0].mapping.host_port, 8080);
  EXPECT_GE(bridge->ports[1].mapping.host_port, kFirstDynamicHostPort);
  EXPECT_TRUE(fs::exists(bridge->netns_path));
  auto loaded = networks.Load("web");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->ports[1].mapping.host_port, bridge->ports[1].mapping.host_port);

  ASSERT_TRUE(networks.Teardown("web").ok());
  EXPECT_FALSE(fs::exists(bridge->netns_path));
  EXPECT_FALSE(networks.Load("web"));
  EXPECT_TRUE(networks.RemoveBridge().ok());  // the guard rule Setup added
}

TEST(TaskNetworkTest, TaskIdsCannotNameOtherFiles) {
  TempDir dir;
  TaskNetworks networks(CniConfig{}, dir.path());
  EXPECT_FALSE(networks.Setup("../x", NetworkMode::kHost, {}).ok());
  EXPECT_FALSE(networks.Teardown("a/b").ok());
  EXPECT_FALSE(networks.Load("../../etc/passwd"));
}

}  // namespace
}  // namespace porthole::node
