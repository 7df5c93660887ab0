#include "common/linux_capabilities.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace porthole {
namespace {

bool Has(const std::vector<std::string>& set, const std::string& cap) {
  return std::find(set.begin(), set.end(), cap) != set.end();
}

TEST(LinuxCapabilitiesTest, NamesWithOrWithoutThePrefix) {
  EXPECT_EQ(CanonicalCapability("SYS_ADMIN"), "CAP_SYS_ADMIN");
  EXPECT_EQ(CanonicalCapability("cap_net_raw"), "CAP_NET_RAW");
  EXPECT_EQ(CanonicalCapability("CHECKPOINT_RESTORE"), "CAP_CHECKPOINT_RESTORE");
  EXPECT_FALSE(CanonicalCapability("ALL"));
  EXPECT_FALSE(CanonicalCapability("SYS_EVERYTHING"));
  EXPECT_FALSE(CanonicalCapability(""));
  EXPECT_EQ(AllCapabilities().size(), 41u);
}

TEST(LinuxCapabilitiesTest, AddAndDropAsDockerDoes) {
  EXPECT_EQ(ResolveCapabilities({}, {}), DefaultCapabilities());
  auto dropped = ResolveCapabilities({}, {"NET_RAW", "cap_chown"});
  EXPECT_FALSE(Has(dropped, "CAP_NET_RAW"));
  EXPECT_FALSE(Has(dropped, "CAP_CHOWN"));
  EXPECT_TRUE(Has(dropped, "CAP_KILL"));
  EXPECT_EQ(dropped.size(), DefaultCapabilities().size() - 2);

  auto only = ResolveCapabilities({"NET_BIND_SERVICE", "SYS_PTRACE"}, {"ALL"});
  EXPECT_EQ(only, (std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_SYS_PTRACE"}));
  EXPECT_EQ(ResolveCapabilities({"ALL"}, {"SYS_ADMIN"}), AllCapabilities());
  auto added = ResolveCapabilities({"CHOWN", "SYS_ADMIN"}, {});
  EXPECT_EQ(std::count(added.begin(), added.end(), "CAP_CHOWN"), 1);
  EXPECT_TRUE(Has(added, "CAP_SYS_ADMIN"));
}

}  // namespace
}  // namespace porthole
