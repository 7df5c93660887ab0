#include "node/oci_config.h"

#include "common/linux_capabilities.h"
#include "node/seccomp_profile.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace porthole::node {
namespace {

ContainerSpec BaseSpec() {
  ContainerSpec spec;
  spec.id = "porthole-test-1";
  spec.bundle_dir = "/var/lib/porthole/bundles/porthole-test-1";
  spec.image = "busybox";
  spec.args = {"sleep", "1000"};
  return spec;
}

bool Contains(const nlohmann::json& array, const std::string& value) {
  return std::find(array.begin(), array.end(), value) != array.end();
}

const nlohmann::json* FindMount(const nlohmann::json& config, const std::string& destination) {
  for (const auto& m : config["mounts"])
    if (m["destination"] == destination) return &m;
  return nullptr;
}

TEST(OciConfigTest, ContainerIds) {
  EXPECT_TRUE(IsValidContainerId("porthole-test-1"));
  EXPECT_TRUE(IsValidContainerId("a_b.c"));
  EXPECT_TRUE(IsValidContainerId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidContainerId(std::string(65, 'a')));
  for (const char* bad : {"", ".", "..", "-rf", ".hidden", "a/b", "a b", "a:b"}) EXPECT_FALSE(IsValidContainerId(bad)) << bad;
}

TEST(OciConfigTest, ContainerPaths) {
  EXPECT_TRUE(IsSafeContainerPath("/"));
  EXPECT_TRUE(IsSafeContainerPath("/tmp/work"));
  EXPECT_TRUE(IsSafeContainerPath("/procfs"));
  for (const char* bad : {"", "tmp", "/proc", "/proc/self/fd/7", "/tmp/../proc/self/fd/3", "/a/./b", "/a//b"})
    EXPECT_FALSE(IsSafeContainerPath(bad)) << bad;
}

TEST(OciConfigTest, ValidateRejectsBadSpecs) {
  EXPECT_TRUE(ValidateContainerSpec(BaseSpec()).ok());
  auto with = [](auto change) {
    ContainerSpec s = BaseSpec();
    change(s);
    return ValidateContainerSpec(s);
  };
  EXPECT_FALSE(with([](ContainerSpec& s) { s.id = "../x"; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.bundle_dir = "relative"; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.bundle_dir = "/"; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.args = {}; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.env = {"NOEQUALS"}; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.env = {"=v"}; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.cwd = "/proc/self/fd/3"; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.hostname = "bad host"; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.mounts = {{"/src", "/", true}}; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.mounts = {{"src", "/data", true}}; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.mounts = {{"/src", "/data/../proc", true}}; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) { s.netns_path = "netns/t1"; }).ok());
  EXPECT_FALSE(with([](ContainerSpec& s) {
    s.netns_path = "/var/lib/porthole/network/t1.netns";
    s.host_network = true;
  }).ok());
  auto e = with([](ContainerSpec& s) { s.image = ""; });
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "InvalidParameterException");
}

TEST(OciConfigTest, ValidateExec) {
  ExecSpec e;
  e.args = {"sh"};
  e.log_path = "/var/log/x.log";
  EXPECT_TRUE(ValidateExecSpec(e).ok());
  e.cwd = "/proc/self/fd/9";
  EXPECT_FALSE(ValidateExecSpec(e).ok());
  e.cwd = "/";
  e.log_path = "";
  EXPECT_FALSE(ValidateExecSpec(e).ok());
  e.log_path = "/x";
  e.args = {};
  EXPECT_FALSE(ValidateExecSpec(e).ok());
}

TEST(OciConfigTest, Basics) {
  ContainerSpec spec = BaseSpec();
  spec.env = {"FOO=bar"};
  spec.cwd = "/tmp";
  spec.readonly_rootfs = true;
  ContainerUser user;
  user.home = "/root";
  auto c = BuildOciConfig(spec, user, {"/usr/bin/tini-static", "node-1"});
  EXPECT_EQ(c["ociVersion"], "1.0.2");
  EXPECT_EQ(c["root"]["path"], "rootfs");
  EXPECT_EQ(c["root"]["readonly"], true);
  EXPECT_EQ(c["hostname"], "node-1");
  const auto& p = c["process"];
  EXPECT_EQ(p["terminal"], false);
  EXPECT_EQ(p["noNewPrivileges"], true);
  EXPECT_EQ(p["cwd"], "/tmp");
  EXPECT_EQ(p["args"], nlohmann::json({"sleep", "1000"}));
  EXPECT_EQ(p["user"]["uid"], 0);
  EXPECT_TRUE(Contains(p["env"], "FOO=bar"));
  EXPECT_TRUE(Contains(p["env"], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  EXPECT_TRUE(Contains(p["env"], "HOSTNAME=node-1"));
  EXPECT_TRUE(Contains(p["env"], "HOME=/root"));
  EXPECT_TRUE(Contains(p["capabilities"]["effective"], "CAP_CHOWN"));
  EXPECT_FALSE(Contains(p["capabilities"]["bounding"], "CAP_SYS_ADMIN"));
  EXPECT_EQ(p["rlimits"][0]["type"], "RLIMIT_NOFILE");

  std::vector<std::string> namespaces;
  for (const auto& n : c["linux"]["namespaces"]) namespaces.push_back(n["type"]);
  // A network namespace of its own (lo only) unless told otherwise.
  EXPECT_EQ(namespaces, (std::vector<std::string>{"pid", "ipc", "uts", "mount", "network"}));
  EXPECT_FALSE(c["linux"]["namespaces"][4].contains("path"));
  EXPECT_TRUE(Contains(c["linux"]["maskedPaths"], "/proc/kcore"));
  EXPECT_TRUE(Contains(c["linux"]["readonlyPaths"], "/proc/sys"));
  EXPECT_EQ(c["linux"]["seccomp"], DefaultSeccompProfile(DefaultCapabilities()));
  for (const char* m : {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"})
    EXPECT_NE(FindMount(c, m), nullptr) << m;
  EXPECT_TRUE(Contains((*FindMount(c, "/dev/pts"))["options"], "newinstance"));
  EXPECT_TRUE(Contains((*FindMount(c, "/sys"))["options"], "ro"));
  EXPECT_EQ(FindMount(c, kInitPathInContainer), nullptr);
}

// networkMode: host joins no network namespace; bridge and awsvpc join the
// one the node set up with CNI.
TEST(OciConfigTest, NetworkNamespace) {
  auto network_of = [](const nlohmann::json& c) -> const nlohmann::json* {
    for (const auto& n : c["linux"]["namespaces"])
      if (n["type"] == "network") return &n;
    return nullptr;
  };
  ContainerSpec spec = BaseSpec();
  spec.host_network = true;
  auto host = BuildOciConfig(spec, ContainerUser{}, {"/usr/bin/tini-static", "node-1"});
  EXPECT_EQ(network_of(host), nullptr);

  spec.host_network = false;
  spec.netns_path = "/var/lib/porthole/network/t1.netns";
  ASSERT_TRUE(ValidateContainerSpec(spec).ok());
  auto joined = BuildOciConfig(spec, ContainerUser{}, {"/usr/bin/tini-static", "node-1"});
  ASSERT_NE(network_of(joined), nullptr);
  EXPECT_EQ((*network_of(joined))["path"], "/var/lib/porthole/network/t1.netns");
}

// ulimits, linuxParameters.sharedMemorySize and .tmpfs, and the cgroup runc
// puts the container in.
TEST(OciConfigTest, LimitsOfTheDefinition) {
  EXPECT_EQ(RlimitTypeFor("nofile"), "RLIMIT_NOFILE");
  EXPECT_EQ(RlimitTypeFor("sigpending"), "RLIMIT_SIGPENDING");
  EXPECT_EQ(RlimitTypeFor("bogus"), "");
  ContainerSpec spec = BaseSpec();
  spec.rlimits = {{"RLIMIT_NPROC", 64, 128}};
  spec.shm_size_bytes = 256ull << 20;
  spec.tmpfs = {{"/scratch", 8ull << 20, {"noexec", "mode=1777"}}};
  spec.cgroups_path = "/porthole/t1/c1/main";
  ASSERT_TRUE(ValidateContainerSpec(spec).ok());
  auto c = BuildOciConfig(spec, ContainerUser{}, {"/usr/bin/tini-static", "node-1"});
  EXPECT_EQ(c["process"]["rlimits"],
            nlohmann::json::parse(R"([{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024},
                                      {"type":"RLIMIT_NPROC","hard":128,"soft":64}])"));
  EXPECT_TRUE(Contains((*FindMount(c, "/dev/shm"))["options"], "size=262144k"));
  const auto* scratch = FindMount(c, "/scratch");
  ASSERT_NE(scratch, nullptr);
  EXPECT_EQ((*scratch)["type"], "tmpfs");
  EXPECT_TRUE(Contains((*scratch)["options"], "noexec"));
  EXPECT_TRUE(Contains((*scratch)["options"], "size=8192k"));
  EXPECT_TRUE(Contains((*scratch)["options"], "nodev"));
  EXPECT_EQ(c["linux"]["cgroupsPath"], "/porthole/t1/c1/main");

  spec.rlimits = {{"RLIMIT_NOFILE", 4096, 8192}};  // replaces the default
  auto nofile = BuildOciConfig(spec, ContainerUser{}, {"/usr/bin/tini-static", "node-1"});
  EXPECT_EQ(nofile["process"]["rlimits"].size(), 1u);
  EXPECT_EQ(nofile["process"]["rlimits"][0]["soft"], 4096);

  auto with = [](auto change) {
    ContainerSpec s = BaseSpec();
    change(s);
    return ValidateContainerSpec(s).ok();
  };
  EXPECT_FALSE(with([](ContainerSpec& s) { s.rlimits = {{"RLIMIT_NOFILE", 10, 5}}; }));
  EXPECT_FALSE(with([](ContainerSpec& s) { s.rlimits = {{"RLIMIT_BOGUS", 1, 1}}; }));
  EXPECT_FALSE(with([](ContainerSpec& s) { s.tmpfs = {{"/proc/x", 1 << 20, {}}}; }));
  EXPECT_FALSE(with([](ContainerSpec& s) { s.tmpfs = {{"/t", 0, {}}}; }));
  EXPECT_FALSE(with([](ContainerSpec& s) { s.tmpfs = {{"/t", 1 << 20, {"size=1g,exec"}}}; }));
  EXPECT_FALSE(with([](ContainerSpec& s) { s.cgroups_path = "porthole/x"; }));
  EXPECT_FALSE(with([](ContainerSpec& s) { s.cgroups_path = "/porthole/../x"; }));
}

// linuxParameters.capabilities reach the process and its seccomp filter.
TEST(OciConfigTest, CapabilitiesOfTheDefinition) {
  ContainerSpec spec = BaseSpec();
  spec.capabilities = std::vector<std::string>{"CAP_KILL", "CAP_SYS_ADMIN"};
  ContainerUser user;
  user.home = "/root";
  auto c = BuildOciConfig(spec, user, {"/usr/bin/tini-static", "node-1"});
  const auto& caps = c["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"], nlohmann::json({"CAP_KILL", "CAP_SYS_ADMIN"}));
  EXPECT_EQ(caps["effective"], caps["bounding"]);
  bool mount_allowed = false;
  for (const auto& rule : c["linux"]["seccomp"]["syscalls"])
    if (Contains(rule["names"], "mount")) mount_allowed = true;
  EXPECT_TRUE(mount_allowed);

  user.uid = 1000;
  auto other = BuildOciConfig(spec, user, {"/usr/bin/tini-static", "node-1"});
  EXPECT_EQ(other["process"]["capabilities"], nlohmann::json({{"bounding", {"CAP_KILL", "CAP_SYS_ADMIN"}}}));
}

TEST(OciConfigTest, ExplicitEnvWins) {
  ContainerSpec spec = BaseSpec();
  spec.env = {"PATH=/bin", "HOSTNAME=mine", "HOME=/h", "A=1", "A=2"};
  auto c = BuildOciConfig(spec, {}, {"/tini", "node"});
  EXPECT_EQ(c["process"]["env"], nlohmann::json({"PATH=/bin", "HOSTNAME=mine", "HOME=/h", "A=2"}));
}

TEST(OciConfigTest, InitProcessAndMounts) {
  ContainerSpec spec = BaseSpec();
  spec.init_process = true;
  spec.hostname = "web";
  spec.mounts = {{"/host/agent", "/managed-agents/execute-command", true}, {"/host/data", "/data", false}};
  ContainerUser user;
  user.uid = 65534;
  user.gid = 65534;
  user.additional_gids = {10};
  auto c = BuildOciConfig(spec, user, {"/usr/bin/tini-static", "node"});
  EXPECT_EQ(c["process"]["args"], nlohmann::json({kInitPathInContainer, "--", "sleep", "1000"}));
  EXPECT_EQ(c["hostname"], "web");
  EXPECT_EQ(c["process"]["user"]["uid"], 65534);
  EXPECT_EQ(c["process"]["user"]["additionalGids"], nlohmann::json({10}));
  // Non-root: no effective or permitted capabilities.
  EXPECT_FALSE(c["process"]["capabilities"].contains("effective"));
  EXPECT_FALSE(c["process"]["capabilities"].contains("permitted"));

  const auto* tini = FindMount(c, kInitPathInContainer);
  ASSERT_NE(tini, nullptr);
  EXPECT_EQ((*tini)["source"], "/usr/bin/tini-static");
  EXPECT_TRUE(Contains((*tini)["options"], "ro"));
  const auto* agent = FindMount(c, "/managed-agents/execute-command");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ((*agent)["type"], "bind");
  EXPECT_TRUE(Contains((*agent)["options"], "rbind"));
  EXPECT_TRUE(Contains((*agent)["options"], "ro"));
  const auto* data = FindMount(c, "/data");
  ASSERT_NE(data, nullptr);
  EXPECT_TRUE(Contains((*data)["options"], "rw"));
  EXPECT_FALSE(Contains((*data)["options"], "ro"));
}

TEST(OciConfigTest, MergeEnv) {
  EXPECT_EQ(MergeEnv({"A=1", "B=2"}, {"B=3", "C=4"}), (std::vector<std::string>{"A=1", "B=3", "C=4"}));
  EXPECT_EQ(MergeEnv({}, {"X=1", "X=2"}), (std::vector<std::string>{"X=2"}));
}

}  // namespace
}  // namespace porthole::node
