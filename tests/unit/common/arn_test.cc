#include "common/arn.h"

#include <gtest/gtest.h>

#include <string>

namespace porthole {
namespace {

constexpr char kRegion[] = "us-east-1";
constexpr char kAccount[] = "123456789012";

TEST(ParseArnTest, ParsesAllSixFields) {
  Result<Arn> arn = ParseArn("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(arn.ok()) << arn.error().message;
  EXPECT_EQ(arn->partition, "aws");
  EXPECT_EQ(arn->service, "ecs");
  EXPECT_EQ(arn->region, "us-east-1");
  EXPECT_EQ(arn->account, "123456789012");
  EXPECT_EQ(arn->resource, "task/prod/0123456789abcdef0123456789abcdef");
}

TEST(ParseArnTest, ResourceKeepsColonsAndSlashes) {
  Result<Arn> arn = ParseArn("arn:aws:logs:eu-west-1:111122223333:log-group:/aws/ecs/exec:*");
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->service, "logs");
  EXPECT_EQ(arn->resource, "log-group:/aws/ecs/exec:*");

  Result<Arn> td = ParseArn("arn:aws:ecs:us-east-1:123456789012:task-definition/web:7");
  ASSERT_TRUE(td.ok());
  EXPECT_EQ(td->resource, "task-definition/web:7");
}

TEST(ParseArnTest, RegionAndAccountMayBeEmpty) {
  Result<Arn> arn = ParseArn("arn:aws:s3:::my-bucket/*");
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->service, "s3");
  EXPECT_EQ(arn->region, "");
  EXPECT_EQ(arn->account, "");
  EXPECT_EQ(arn->resource, "my-bucket/*");
}

TEST(ParseArnTest, OtherPartitionsAndWildcards) {
  Result<Arn> arn = ParseArn("arn:aws-cn:ecs:cn-north-1:123456789012:cluster/a");
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->partition, "aws-cn");
  Result<Arn> pattern = ParseArn("arn:*:ecs:*:111122223333:task/cluster-name/*");
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(pattern->region, "*");
}

TEST(ParseArnTest, RejectsMalformed) {
  const char* bad[] = {
      "",
      "arn",
      "arn:aws:ecs:us-east-1:123456789012",  // five fields
      "arn:aws:ecs:us-east-1",
      "urn:aws:ecs:us-east-1:123456789012:cluster/a",
      "ARN:aws:ecs:us-east-1:123456789012:cluster/a",
      "arn::ecs:us-east-1:123456789012:cluster/a",      // no partition
      "arn:aws::us-east-1:123456789012:cluster/a",      // no service
      "arn:aws:ecs:us-east-1:123456789012:",            // no resource
      " arn:aws:ecs:us-east-1:123456789012:cluster/a",  // leading space
      "cluster/a",
  };
  for (const char* text : bad) {
    Result<Arn> arn = ParseArn(text);
    ASSERT_FALSE(arn.ok()) << text;
    EXPECT_EQ(arn.error().code, "InvalidParameterException") << text;
    EXPECT_EQ(arn.error().http_status, 400);
  }
}

TEST(ParseArnTest, ErrorNamesTheValue) {
  Result<Arn> arn = ParseArn("arn:aws::r:a:x");
  ASSERT_FALSE(arn.ok());
  EXPECT_NE(arn.error().message.find("'arn:aws::r:a:x'"), std::string::npos) << arn.error().message;
}

TEST(ParseArnTest, RejectsOverlongAndTruncatesEcho) {
  std::string text = "arn:aws:ecs:us-east-1:123456789012:cluster/" + std::string(kMaxArnLength, 'a');
  Result<Arn> arn = ParseArn(text);
  ASSERT_FALSE(arn.ok());
  EXPECT_LT(arn.error().message.size(), 300u);

  std::string at_limit = "arn:aws:ecs:r:a:" + std::string(kMaxArnLength - 16, 'x');
  ASSERT_EQ(at_limit.size(), kMaxArnLength);
  EXPECT_TRUE(ParseArn(at_limit).ok());
}

TEST(ParseArnTest, TruncatedEchoStaysValidUtf8) {
  // 99 ASCII bytes then a 3-byte character straddling the 100-byte cut.
  std::string name = std::string(99, 'n') + "\xE6\x97\xA5" + std::string(10, 'n');
  Status status = ValidateClusterName(name);
  ASSERT_FALSE(status.ok());
  const std::string& m = status.error().message;
  EXPECT_NE(m.find(std::string(99, 'n') + "...'"), std::string::npos) << m;
  EXPECT_EQ(m.find('\xE6'), std::string::npos);
}

TEST(FormatArnTest, RoundTrips) {
  const char* texts[] = {
      "arn:aws:ecs:us-east-1:123456789012:task/prod/abc",
      "arn:aws:s3:::bucket",
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/ecs/exec:*",
  };
  for (const char* text : texts) {
    Result<Arn> arn = ParseArn(text);
    ASSERT_TRUE(arn.ok()) << text;
    EXPECT_EQ(FormatArn(*arn), text);
  }
}

TEST(FormatArnTest, DefaultPartitionIsAws) {
  Arn arn;
  arn.service = "iam";
  arn.account = "123456789012";
  arn.resource = "role/task-role";
  EXPECT_EQ(FormatArn(arn), "arn:aws:iam::123456789012:role/task-role");
}

TEST(EcsArnTest, Builders) {
  EXPECT_EQ(ClusterArn(kRegion, kAccount, "prod"), "arn:aws:ecs:us-east-1:123456789012:cluster/prod");
  EXPECT_EQ(TaskArn(kRegion, kAccount, "prod", "0123456789abcdef0123456789abcdef"),
            "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef");
  EXPECT_EQ(TaskDefinitionArn(kRegion, kAccount, "web", 12),
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12");
  EXPECT_EQ(ContainerArn(kRegion, kAccount, "prod", "abc", "5b6d2b4e-1c3a-4f1e-9d0a-2a9c3c1e8f00"),
            "arn:aws:ecs:us-east-1:123456789012:container/prod/abc/5b6d2b4e-1c3a-4f1e-9d0a-2a9c3c1e8f00");
  EXPECT_EQ(ContainerInstanceArn(kRegion, kAccount, "prod", "f0e1d2c3"),
            "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/f0e1d2c3");
}

TEST(EcsArnTest, BuiltArnsParse) {
  Result<Arn> arn = ParseArn(TaskDefinitionArn(kRegion, kAccount, "web", 3));
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->service, "ecs");
  EXPECT_EQ(arn->resource, "task-definition/web:3");
}

TEST(ClusterNameFromTest, NameArnOrDefault) {
  EXPECT_EQ(ClusterNameFrom("prod"), "prod");
  EXPECT_EQ(ClusterNameFrom(""), "default");
  EXPECT_EQ(ClusterNameFrom("arn:aws:ecs:us-east-1:123456789012:cluster/prod"), "prod");
  EXPECT_EQ(ClusterNameFrom(ClusterArn(kRegion, kAccount, "my_cluster-2")), "my_cluster-2");
}

TEST(ClusterNameFromTest, NonClusterArnsComeBackUnchangedAndFailValidation) {
  const char* inputs[] = {
      "arn:aws:ecs:us-east-1:123456789012:task/prod/abc",
      "arn:aws:s3:::cluster/prod",
      "arn:aws:ecs:us-east-1",
  };
  for (const char* input : inputs) {
    std::string name = ClusterNameFrom(input);
    EXPECT_EQ(name, input);
    Status status = ValidateClusterName(name);
    ASSERT_FALSE(status.ok()) << input;
    EXPECT_NE(status.error().message.find(input), std::string::npos) << status.error().message;
  }
}

TEST(TaskIdFromTest, IdOrArn) {
  EXPECT_EQ(TaskIdFrom("0123456789abcdef0123456789abcdef"), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(TaskIdFrom("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"),
            "0123456789abcdef0123456789abcdef");
  // The old ARN format, without the cluster.
  EXPECT_EQ(TaskIdFrom("arn:aws:ecs:us-east-1:123456789012:task/0123456789abcdef"), "0123456789abcdef");
  EXPECT_EQ(TaskIdFrom(TaskArn(kRegion, kAccount, "c", "id1")), "id1");
  // Not a task ARN: unchanged, so the lookup fails naming it.
  EXPECT_EQ(TaskIdFrom("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
            "arn:aws:ecs:us-east-1:123456789012:cluster/prod");
  EXPECT_EQ(TaskIdFrom(""), "");
}

TEST(ParseTaskDefinitionRefTest, FamilyOnly) {
  Result<TaskDefinitionRef> ref = ParseTaskDefinitionRef("web");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->family, "web");
  EXPECT_FALSE(ref->revision.has_value());
}

TEST(ParseTaskDefinitionRefTest, FamilyAndRevision) {
  Result<TaskDefinitionRef> ref = ParseTaskDefinitionRef("web-app_2:17");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->family, "web-app_2");
  EXPECT_EQ(ref->revision, 17);
}

TEST(ParseTaskDefinitionRefTest, Arn) {
  Result<TaskDefinitionRef> ref = ParseTaskDefinitionRef("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3");
  ASSERT_TRUE(ref.ok()) << ref.error().message;
  EXPECT_EQ(ref->family, "web");
  EXPECT_EQ(ref->revision, 3);

  Result<TaskDefinitionRef> no_rev = ParseTaskDefinitionRef("arn:aws:ecs:us-east-1:123456789012:task-definition/web");
  ASSERT_TRUE(no_rev.ok());
  EXPECT_EQ(no_rev->family, "web");
  EXPECT_FALSE(no_rev->revision.has_value());
}

TEST(ParseTaskDefinitionRefTest, LargestRevision) {
  Result<TaskDefinitionRef> ref = ParseTaskDefinitionRef("web:2147483647");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->revision, 2147483647);
}

TEST(ParseTaskDefinitionRefTest, RejectsBadInput) {
  const char* bad[] = {
      "",
      ":1",
      "web:",
      "web:0",
      "web:-1",
      "web:+1",
      "web:1a",
      "web: 1",
      "web:1:2",
      "web:2147483648",
      "web:99999999999999999999",
      "we b",
      "web/1",
      "arn:aws:ecs:us-east-1:123456789012:task/prod/abc",
      "arn:aws:ecs:us-east-1:123456789012:task-definition/",
      "arn:aws:ecs:us-east-1:123456789012:task-definition/web:x",
      "arn:aws:s3:::task-definition/web:1",
      "arn:aws:ecs",
  };
  for (const char* text : bad) {
    Result<TaskDefinitionRef> ref = ParseTaskDefinitionRef(text);
    ASSERT_FALSE(ref.ok()) << text;
    EXPECT_EQ(ref.error().code, "InvalidParameterException") << text;
    if (*text) {
      EXPECT_NE(ref.error().message.find(text), std::string::npos) << ref.error().message;
    }
  }
}

TEST(ParseTaskDefinitionRefTest, FamilyOf255Accepted256Rejected) {
  EXPECT_TRUE(ParseTaskDefinitionRef(std::string(255, 'f') + ":1").ok());
  EXPECT_FALSE(ParseTaskDefinitionRef(std::string(256, 'f')).ok());
}

TEST(ValidateNameTest, AcceptsEcsNames) {
  for (const std::string& name : {std::string("a"), std::string("Prod_cluster-01"), std::string(255, 'x')}) {
    EXPECT_TRUE(ValidateClusterName(name).ok()) << name;
    EXPECT_TRUE(ValidateFamilyName(name).ok()) << name;
    EXPECT_TRUE(ValidateContainerName(name).ok()) << name;
  }
}

TEST(ValidateNameTest, RejectsOthers) {
  for (const std::string& name :
       {std::string(""), std::string(256, 'x'), std::string("a b"), std::string("a.b"), std::string("a/b"),
        std::string("a:b"), std::string("caf\xC3\xA9"), std::string("a\0b", 3), std::string("*")}) {
    for (Status status : {ValidateClusterName(name), ValidateFamilyName(name), ValidateContainerName(name)}) {
      ASSERT_FALSE(status.ok()) << name;
      EXPECT_EQ(status.error().code, "InvalidParameterException");
    }
  }
}

TEST(ValidateNameTest, MessagesNameWhatAndValue) {
  Status cluster = ValidateClusterName("bad name");
  ASSERT_FALSE(cluster.ok());
  EXPECT_NE(cluster.error().message.find("cluster name 'bad name'"), std::string::npos) << cluster.error().message;
  Status container = ValidateContainerName("bad.name");
  ASSERT_FALSE(container.ok());
  EXPECT_NE(container.error().message.find("container name 'bad.name'"), std::string::npos);
  Status family = ValidateFamilyName("");
  ASSERT_FALSE(family.ok());
  EXPECT_NE(family.error().message.find("family ''"), std::string::npos);
}

}  // namespace
}  // namespace porthole
