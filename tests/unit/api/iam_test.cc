// IAM and STS over AWS's query protocol (form-encoded POST, XML answers),
// and the authorization of API calls by the caller's identity policies.
// Requests go through ControlPlane::Handle, SigV4-signed as the AWS CLI signs
// them. The seed's example policies (shared/ecs-exec-seed.md; E26–E28 in
// shared/ecs-exec.md) are checked as written: each decision, and the audit
// event that names the deciding policy and statement.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <ctime>
#include <exception>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/control_plane.h"
#include "api_test_support.h"
#include "api/query_protocol.h"
#include "auth/sigv4.h"
#include "store/store.h"

#include "iam_test_fixture.h"

namespace porthole::api {
namespace {

using namespace test;

// ============================================================== query protocol

TEST(QueryProtocolTest, UrlDecodeHandlesPercentAndPlus) {
  EXPECT_EQ(UrlDecode("a%20b+c"), "a b c");
  EXPECT_EQ(UrlDecode("%41%4a%4A"), "AJJ");
  EXPECT_EQ(UrlDecode("%7B%22Version%22%3A%222012-10-17%22%7D"), R"({"Version":"2012-10-17"})");
  EXPECT_EQ(UrlDecode("%2B"), "+");
  EXPECT_EQ(UrlDecode("%E2%82%AC"), "\xE2\x82\xAC");
  // Not an escape: kept as written.
  EXPECT_EQ(UrlDecode("100%"), "100%");
  EXPECT_EQ(UrlDecode("%4"), "%4");
  EXPECT_EQ(UrlDecode("%zz"), "%zz");
  EXPECT_EQ(UrlDecode("a%2"), "a%2");
  EXPECT_EQ(UrlDecode(""), "");
}

TEST(QueryProtocolTest, UrlEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(UrlEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(UrlEncode("a b+c/d=e&f"), "a%20b%2Bc%2Fd%3De%26f");
  EXPECT_EQ(UrlEncode("\xE2\x82\xAC"), "%E2%82%AC");
  const std::string document = R"({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
  EXPECT_EQ(UrlDecode(UrlEncode(document)), document);
}

TEST(QueryProtocolTest, ParseQuerySplitsAndDecodes) {
  auto params = ParseQuery("Action=CreateUser&Version=2010-05-08&UserName=al%2Bice&Path=%2Fa+b%2F&&Flag");
  ASSERT_TRUE(params.ok()) << params.error().message;
  EXPECT_EQ(*params, (QueryParams{{"Action", "CreateUser"},
                                  {"Version", "2010-05-08"},
                                  {"UserName", "al+ice"},
                                  {"Path", "/a b/"},
                                  {"Flag", ""}}));
  // '=' inside a value (after the first) is part of the value.
  auto with_equals = ParseQuery("Key=a=b");
  ASSERT_TRUE(with_equals.ok());
  EXPECT_EQ(with_equals->at("Key"), "a=b");
  auto empty = ParseQuery("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(QueryProtocolTest, ParseQueryRefusesEmptyNamesAndHugeBodies) {
  auto nameless = ParseQuery("Action=GetUser&=value");
  ASSERT_FALSE(nameless.ok());
  EXPECT_EQ(nameless.error().code, "MalformedQueryString");
  auto huge = ParseQuery("Action=GetUser&Pad=" + std::string(1024 * 1024, 'x'));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, "MalformedQueryString");
}

TEST(QueryProtocolTest, MemberListStopsAtTheFirstGap) {
  QueryParams params = {{"Names.member.1", "a"},
                        {"Names.member.2", "b c"},
                        {"Names.member.4", "d"},
                        {"Other.member.1", "x"}};
  EXPECT_EQ(MemberList(params, "Names"), (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(MemberList(params, "Other"), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(MemberList(params, "Missing").empty());
  // Numbering starts at 1.
  EXPECT_TRUE(MemberList({{"Z.member.0", "zero"}, {"Z.member.2", "two"}}, "Z").empty());
}

TEST(QueryProtocolTest, XmlEscapeCoversTheFiveSpecialCharacters) {
  EXPECT_EQ(XmlEscape(R"(<a href="x">Tom & Jerry's</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;");
  EXPECT_EQ(XmlEscape("plain text / 123"), "plain text / 123");
  EXPECT_EQ(XmlElement("UserName", "a<b"), "<UserName>a&lt;b</UserName>");
  EXPECT_EQ(XmlElement("Empty", ""), "<Empty></Empty>");
}

TEST(QueryProtocolTest, ResponseAndErrorShapes) {
  net::HttpResponse ok = QueryResponse("GetUser", kIamNs, "<User/>");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.rfind(std::string("<GetUserResponse xmlns=\"") + kIamNs + "\"><GetUserResult><User/></GetUserResult>"
                          "<ResponseMetadata><RequestId>",
                          0),
            0u)
      << ok.body;
  EXPECT_NE(ok.body.find("</RequestId></ResponseMetadata></GetUserResponse>"), std::string::npos) << ok.body;

  net::HttpResponse sender = QueryErrorResponse(kIamNs, MakeError("NoSuchEntity", "no <user>", 404));
  EXPECT_EQ(sender.status, 404);
  EXPECT_EQ(sender.body.rfind(std::string("<ErrorResponse xmlns=\"") + kIamNs +
                                  "\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"
                                  "<Message>no &lt;user&gt;</Message></Error><RequestId>",
                              0),
            0u)
      << sender.body;
  net::HttpResponse receiver = QueryErrorResponse(kStsNs, MakeError("ServiceFailure", "boom", 500));
  EXPECT_EQ(receiver.status, 500);
  EXPECT_EQ(XmlText(receiver.body, "Type"), "Receiver");
}

TEST(QueryProtocolTest, IsoTimeIsUtcSeconds) {
  EXPECT_EQ(IsoTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(IsoTime(1700000000.9), "2023-11-14T22:13:20Z");
}

// ============================================================== authentication

TEST_F(IamTest, IamCallSignedForAnotherServiceIsSignatureDoesNotMatch) {
  Reply reply = Send(QueryRequest(Form("ListUsers", {}, "2010-05-08"), root_, "ecs"));
  EXPECT_TRUE(IsQueryError(reply, 403, "SignatureDoesNotMatch"));
  // STS is checked against "sts", not "iam".
  reply = Send(QueryRequest(Form("GetCallerIdentity", {}, "2011-06-15"), root_, "iam"));
  EXPECT_TRUE(IsQueryError(reply, 403, "SignatureDoesNotMatch", std::nullopt, kStsNs));
}

TEST_F(IamTest, WrongSecretAndUnknownKeyAreRefusedInXml) {
  auth::Credentials wrong = root_;
  wrong.secret_access_key[0] = wrong.secret_access_key[0] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(IsQueryError(Iam("ListUsers", {}, wrong), 403, "SignatureDoesNotMatch"));
  auth::Credentials unknown{"AKIAAAAAAAAAAAAAAAAA", root_.secret_access_key, ""};
  EXPECT_TRUE(IsQueryError(Iam("ListUsers", {}, unknown), 403, "InvalidClientTokenId"));
}

TEST_F(IamTest, UnsignedQueryIsRefused) {
  Reply reply = Send(QueryRequest(Form("ListUsers", {}, "2010-05-08"), std::nullopt, "iam"));
  EXPECT_EQ(reply.status, 403) << reply.body;
  EXPECT_TRUE(XmlText(reply.body, "Code")) << reply.body;
  EXPECT_EQ(reply.body.rfind("<ErrorResponse", 0), 0u) << reply.body;
}

TEST_F(IamTest, UnknownActionIsInvalidAction) {
  EXPECT_TRUE(IsQueryError(Iam("LaunchRockets"), 400, "InvalidAction"));
}

// ============================================================== STS

TEST_F(IamTest, GetCallerIdentityForRoot) {
  Reply reply = Sts("GetCallerIdentity");
  ASSERT_TRUE(IsQueryOk(reply, "GetCallerIdentity", kStsNs));
  EXPECT_EQ(XmlText(reply.body, "Arn"), RootArn());
  EXPECT_EQ(XmlText(reply.body, "UserId"), kAccount);
  EXPECT_EQ(XmlText(reply.body, "Account"), kAccount);
}

TEST_F(IamTest, GetCallerIdentityForUserNeedsNoPolicy) {
  User alice = MakeUser("alice");
  std::string user_id = XmlText(MustIam("GetUser", {{"UserName", "alice"}}), "UserId").value_or("");
  Reply reply = Sts("GetCallerIdentity", alice.credentials);
  ASSERT_TRUE(IsQueryOk(reply, "GetCallerIdentity", kStsNs));
  EXPECT_EQ(XmlText(reply.body, "Arn"), UserArn("alice"));
  EXPECT_EQ(XmlText(reply.body, "UserId"), user_id);
  EXPECT_EQ(user_id.rfind("AIDA", 0), 0u) << user_id;
  EXPECT_EQ(XmlText(reply.body, "Account"), kAccount);
}

// ============================================================== users

TEST_F(IamTest, CreateUserAnswersTheUser) {
  Reply reply = Iam("CreateUser", {{"UserName", "alice"}, {"Tags.member.1.Key", "team"}, {"Tags.member.1.Value", "a&b"}});
  ASSERT_TRUE(IsQueryOk(reply, "CreateUser"));
  auto user = XmlText(reply.body, "User");
  ASSERT_TRUE(user) << reply.body;
  EXPECT_EQ(XmlText(*user, "Path"), "/");
  EXPECT_EQ(XmlText(*user, "UserName"), "alice");
  EXPECT_EQ(XmlText(*user, "Arn"), UserArn("alice"));
  std::string id = XmlText(*user, "UserId").value_or("");
  EXPECT_EQ(id.rfind("AIDA", 0), 0u) << id;
  EXPECT_EQ(id.size(), 20u) << id;
  EXPECT_TRUE(std::regex_match(XmlText(*user, "CreateDate").value_or(""),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << reply.body;
  EXPECT_EQ(XmlText(*user, "Tags"), "<member><Key>team</Key><Value>a&amp;b</Value></member>");
}

TEST_F(IamTest, CreateUserWithPathPutsItInTheArn) {
  Reply reply = Iam("CreateUser", {{"UserName", "bob"}, {"Path", "/eng/"}});
  ASSERT_TRUE(IsQueryOk(reply, "CreateUser"));
  EXPECT_EQ(XmlText(reply.body, "Path"), "/eng/");
  EXPECT_EQ(XmlText(reply.body, "Arn"), std::string("arn:aws:iam::") + kAccount + ":user/eng/bob");
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "carol"}, {"Path", "eng"}}), 400, "ValidationError"));
}

TEST_F(IamTest, CreateUserTwiceIsEntityAlreadyExists) {
  MustIam("CreateUser", {{"UserName", "alice"}});
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "alice"}}), 409, "EntityAlreadyExists",
                           "User with name alice already exists."));
}

TEST_F(IamTest, BadUserNamesAreValidationErrors) {
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "bad name"}}), 400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "a/b"}}), 400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "<script>"}}), 400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", std::string(65, 'a')}}), 400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", ""}}), 400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(Iam("CreateUser"), 400, "ValidationError"));
  // The characters IAM allows besides letters and digits.
  EXPECT_TRUE(IsQueryOk(Iam("CreateUser", {{"UserName", "a+b=c,d.e@f_g-h"}}), "CreateUser"));
  EXPECT_TRUE(IsQueryOk(Iam("CreateUser", {{"UserName", std::string(64, 'a')}}), "CreateUser"));
}

TEST_F(IamTest, GetUser) {
  MustIam("CreateUser", {{"UserName", "alice"}});
  Reply reply = Iam("GetUser", {{"UserName", "alice"}});
  ASSERT_TRUE(IsQueryOk(reply, "GetUser"));
  EXPECT_EQ(XmlText(reply.body, "UserName"), "alice");
  EXPECT_EQ(XmlText(reply.body, "Arn"), UserArn("alice"));
  EXPECT_TRUE(XmlText(reply.body, "UserId"));
  EXPECT_TRUE(XmlText(reply.body, "CreateDate"));

  EXPECT_TRUE(IsQueryError(Iam("GetUser", {{"UserName", "ghost"}}), 404, "NoSuchEntity",
                           "The user with name ghost cannot be found."));

  // Without UserName: the caller (root here).
  Reply self = Iam("GetUser");
  ASSERT_TRUE(IsQueryOk(self, "GetUser"));
  EXPECT_EQ(XmlText(self.body, "Arn"), RootArn());
  EXPECT_EQ(XmlText(self.body, "UserId"), kAccount);
}

TEST_F(IamTest, GetUserWithoutNameIsTheCallingUser) {
  User alice = MakeUser("alice");
  PutPolicy(alice, "self",
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser",)"
            R"("Resource":"arn:aws:iam::*:user/${aws:username}"}]})");
  Reply reply = Iam("GetUser", {}, alice.credentials);
  ASSERT_TRUE(IsQueryOk(reply, "GetUser"));
  EXPECT_EQ(XmlText(reply.body, "UserName"), "alice");
  EXPECT_EQ(XmlText(reply.body, "Arn"), UserArn("alice"));
  // The policy variable confines her to herself.
  MustIam("CreateUser", {{"UserName", "bob"}});
  EXPECT_TRUE(IsQueryError(Iam("GetUser", {{"UserName", "bob"}}, alice.credentials), 403, "AccessDenied",
                           NotAuthorized(UserArn("alice"), "iam:GetUser", UserArn("bob"))));
}

// IAM decides user actions on the user's ARN, path included
// ("arn:aws:iam::123456789012:user/eng/bob"). DISABLED: IamOperation builds
// the resource as ":user/<name>" whatever the path (src/api/iam_operations.cc),
// so a policy scoped to a path never matches. Enable once fixed.
TEST_F(IamTest, UserActionsAreAuthorizedOnTheArnWithItsPath) {
  MustIam("CreateUser", {{"UserName", "bob"}, {"Path", "/eng/"}});
  User lead = MakeUser("lead");
  PutPolicy(lead, "eng",
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser",)"
            R"("Resource":"arn:aws:iam::123456789012:user/eng/*"}]})");
  NewAuditEvents();
  const std::string bob_arn = std::string("arn:aws:iam::") + kAccount + ":user/eng/bob";
  EXPECT_TRUE(IsQueryOk(Iam("GetUser", {{"UserName", "bob"}}, lead.credentials), "GetUser"));
  EXPECT_TRUE(AuditedOnce(lead.arn, "iam:GetUser", bob_arn, "Allow", "user/lead/inline/eng", "#0"));
}

TEST_F(IamTest, ListUsers) {
  Reply none = Iam("ListUsers");
  ASSERT_TRUE(IsQueryOk(none, "ListUsers"));
  EXPECT_EQ(XmlText(none.body, "Users"), "");
  EXPECT_EQ(XmlText(none.body, "IsTruncated"), "false");

  MustIam("CreateUser", {{"UserName", "alice"}});
  MustIam("CreateUser", {{"UserName", "bob"}});
  Reply reply = Iam("ListUsers");
  ASSERT_TRUE(IsQueryOk(reply, "ListUsers"));
  std::vector<std::string> members = XmlTexts(XmlText(reply.body, "Users").value_or(""), "member");
  ASSERT_EQ(members.size(), 2u) << reply.body;
  EXPECT_EQ(XmlText(members[0], "UserName"), "alice");
  EXPECT_EQ(XmlText(members[0], "Arn"), UserArn("alice"));
  EXPECT_EQ(XmlText(members[1], "UserName"), "bob");
  // Members are users without the <User> wrapper.
  EXPECT_EQ(members[0].find("<User>"), std::string::npos) << reply.body;
  EXPECT_EQ(members[0].rfind("<Path>/</Path>", 0), 0u) << reply.body;
  EXPECT_EQ(XmlText(reply.body, "IsTruncated"), "false");
}

TEST_F(IamTest, DeleteUserNeedsKeysAndPoliciesGoneFirst) {
  User alice = MakeUser("alice");
  const std::string conflict = "Cannot delete entity, must delete policies and access keys first.";
  EXPECT_TRUE(IsQueryError(Iam("DeleteUser", {{"UserName", "alice"}}), 409, "DeleteConflict", conflict));
  MustIam("DeleteAccessKey", {{"UserName", "alice"}, {"AccessKeyId", alice.credentials.access_key_id}});

  PutPolicy(alice, "p", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]})");
  EXPECT_TRUE(IsQueryError(Iam("DeleteUser", {{"UserName", "alice"}}), 409, "DeleteConflict", conflict));
  MustIam("DeleteUserPolicy", {{"UserName", "alice"}, {"PolicyName", "p"}});

  std::string policy_arn = XmlText(MustIam("CreatePolicy", {{"PolicyName", "m"},
                                                            {"PolicyDocument",
                                                             R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                                                             R"("Action":"ecs:List*","Resource":"*"}]})"}}),
                                   "Arn")
                               .value_or("");
  MustIam("AttachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", policy_arn}});
  EXPECT_TRUE(IsQueryError(Iam("DeleteUser", {{"UserName", "alice"}}), 409, "DeleteConflict", conflict));
  MustIam("DetachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", policy_arn}});

  Reply deleted = Iam("DeleteUser", {{"UserName", "alice"}});
  EXPECT_TRUE(IsQueryOk(deleted, "DeleteUser"));
  EXPECT_TRUE(IsQueryError(Iam("GetUser", {{"UserName", "alice"}}), 404, "NoSuchEntity"));
  EXPECT_TRUE(IsQueryError(Iam("DeleteUser", {{"UserName", "alice"}}), 404, "NoSuchEntity"));
}

TEST_F(IamTest, TagUserAddsAndReplaces) {
  MustIam("CreateUser", {{"UserName", "alice"}, {"Tags.member.1.Key", "team"}, {"Tags.member.1.Value", "a"}});
  Reply tagged = Iam("TagUser", {{"UserName", "alice"},
                                 {"Tags.member.1.Key", "team"},
                                 {"Tags.member.1.Value", "b"},
                                 {"Tags.member.2.Key", "cost-center"},
                                 {"Tags.member.2.Value", "42"}});
  EXPECT_TRUE(IsQueryOk(tagged, "TagUser"));
  std::string user = MustIam("GetUser", {{"UserName", "alice"}});
  EXPECT_EQ(XmlText(user, "Tags"),
            "<member><Key>team</Key><Value>b</Value></member><member><Key>cost-center</Key><Value>42</Value></member>");
  EXPECT_TRUE(IsQueryError(Iam("TagUser", {{"UserName", "ghost"}, {"Tags.member.1.Key", "k"}}), 404, "NoSuchEntity"));
  EXPECT_TRUE(IsQueryError(Iam("TagUser", {{"UserName", "alice"}, {"Tags.member.1.Key", ""}}), 400, "ValidationError"));
}

// ============================================================== access keys

TEST_F(IamTest, CreateAccessKeyAnswersTheSecretOnce) {
  MustIam("CreateUser", {{"UserName", "alice"}});
  Reply reply = Iam("CreateAccessKey", {{"UserName", "alice"}});
  ASSERT_TRUE(IsQueryOk(reply, "CreateAccessKey"));
  auto key = XmlText(reply.body, "AccessKey");
  ASSERT_TRUE(key) << reply.body;
  EXPECT_EQ(XmlText(*key, "UserName"), "alice");
  std::string id = XmlText(*key, "AccessKeyId").value_or("");
  EXPECT_EQ(id.rfind("AKIA", 0), 0u) << id;
  EXPECT_EQ(id.size(), 20u) << id;
  EXPECT_EQ(XmlText(*key, "Status"), "Active");
  EXPECT_GE(XmlText(*key, "SecretAccessKey").value_or("").size(), 40u) << reply.body;
  EXPECT_TRUE(XmlText(*key, "CreateDate"));

  // The secret is not kept in the clear.
  auto stored = store_->Get(store::kind::kAccessKey, id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->body.dump().find(*XmlText(*key, "SecretAccessKey")), std::string::npos);

  // The key works.
  auth::Credentials credentials{id, *XmlText(*key, "SecretAccessKey"), ""};
  EXPECT_TRUE(IsQueryOk(Sts("GetCallerIdentity", credentials), "GetCallerIdentity", kStsNs));

  EXPECT_TRUE(IsQueryError(Iam("CreateAccessKey", {{"UserName", "ghost"}}), 404, "NoSuchEntity"));
}

TEST_F(IamTest, ThirdAccessKeyIsLimitExceeded) {
  MakeUser("alice");
  MustIam("CreateAccessKey", {{"UserName", "alice"}});
  EXPECT_TRUE(IsQueryError(Iam("CreateAccessKey", {{"UserName", "alice"}}), 409, "LimitExceeded",
                           "Cannot exceed quota for AccessKeysPerUser: 2"));
  Reply listed = Iam("ListAccessKeys", {{"UserName", "alice"}});
  ASSERT_TRUE(IsQueryOk(listed, "ListAccessKeys"));
  EXPECT_EQ(XmlTexts(listed.body, "AccessKeyId").size(), 2u) << listed.body;
}

TEST_F(IamTest, ListAccessKeysShowsMetadataOnly) {
  User alice = MakeUser("alice");
  Reply reply = Iam("ListAccessKeys", {{"UserName", "alice"}});
  ASSERT_TRUE(IsQueryOk(reply, "ListAccessKeys"));
  std::vector<std::string> members = XmlTexts(XmlText(reply.body, "AccessKeyMetadata").value_or(""), "member");
  ASSERT_EQ(members.size(), 1u) << reply.body;
  EXPECT_EQ(XmlText(members[0], "UserName"), "alice");
  EXPECT_EQ(XmlText(members[0], "AccessKeyId"), alice.credentials.access_key_id);
  EXPECT_EQ(XmlText(members[0], "Status"), "Active");
  EXPECT_TRUE(XmlText(members[0], "CreateDate"));
  EXPECT_EQ(reply.body.find("SecretAccessKey"), std::string::npos) << reply.body;
  EXPECT_EQ(XmlText(reply.body, "IsTruncated"), "false");
  EXPECT_TRUE(IsQueryError(Iam("ListAccessKeys", {{"UserName", "ghost"}}), 404, "NoSuchEntity"));
}

TEST_F(IamTest, InactiveAccessKeyIsRefusedUntilReactivated) {
  User alice = MakeUser("alice");
  ASSERT_TRUE(IsQueryOk(Sts("GetCallerIdentity", alice.credentials), "GetCallerIdentity", kStsNs));

  Reply updated = Iam("UpdateAccessKey", {{"UserName", "alice"},
                                          {"AccessKeyId", alice.credentials.access_key_id},
                                          {"Status", "Inactive"}});
  EXPECT_TRUE(IsQueryOk(updated, "UpdateAccessKey"));
  Reply listed = Iam("ListAccessKeys", {{"UserName", "alice"}});
  EXPECT_EQ(XmlText(listed.body, "Status"), "Inactive") << listed.body;

  EXPECT_TRUE(IsQueryError(Sts("GetCallerIdentity", alice.credentials), 403, "InvalidClientTokenId", std::nullopt,
                           kStsNs));
  EXPECT_TRUE(IsQueryError(Iam("GetUser", {}, alice.credentials), 403, "InvalidClientTokenId"));
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), alice.credentials), 403, "UnrecognizedClientException"));

  MustIam("UpdateAccessKey",
          {{"UserName", "alice"}, {"AccessKeyId", alice.credentials.access_key_id}, {"Status", "Active"}});
  EXPECT_TRUE(IsQueryOk(Sts("GetCallerIdentity", alice.credentials), "GetCallerIdentity", kStsNs));
}

TEST_F(IamTest, UpdateAccessKeyErrors) {
  User alice = MakeUser("alice");
  MustIam("CreateUser", {{"UserName", "bob"}});
  EXPECT_TRUE(IsQueryError(Iam("UpdateAccessKey", {{"UserName", "alice"},
                                                   {"AccessKeyId", alice.credentials.access_key_id},
                                                   {"Status", "Disabled"}}),
                           400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(
      Iam("UpdateAccessKey", {{"UserName", "alice"}, {"AccessKeyId", alice.credentials.access_key_id}}), 400,
      "ValidationError"));
  EXPECT_TRUE(IsQueryError(
      Iam("UpdateAccessKey", {{"UserName", "alice"}, {"AccessKeyId", "AKIAAAAAAAAAAAAAAAAA"}, {"Status", "Inactive"}}),
      404, "NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found."));
  // Another user's key is not found under this one.
  EXPECT_TRUE(IsQueryError(Iam("UpdateAccessKey", {{"UserName", "bob"},
                                                   {"AccessKeyId", alice.credentials.access_key_id},
                                                   {"Status", "Inactive"}}),
                           404, "NoSuchEntity"));
  // Nor is the account root's key, whoever asks.
  EXPECT_TRUE(IsQueryError(
      Iam("UpdateAccessKey", {{"UserName", "alice"}, {"AccessKeyId", root_.access_key_id}, {"Status", "Inactive"}}),
      404, "NoSuchEntity"));
  EXPECT_TRUE(IsQueryError(Iam("UpdateAccessKey", {{"AccessKeyId", root_.access_key_id}, {"Status", "Inactive"}}), 404,
                           "NoSuchEntity"));
  EXPECT_TRUE(IsQueryOk(Sts("GetCallerIdentity"), "GetCallerIdentity", kStsNs));
  EXPECT_TRUE(IsQueryOk(Sts("GetCallerIdentity", alice.credentials), "GetCallerIdentity", kStsNs));
}

TEST_F(IamTest, DeletedAccessKeyIsRefused) {
  User alice = MakeUser("alice");
  ASSERT_TRUE(IsQueryOk(Sts("GetCallerIdentity", alice.credentials), "GetCallerIdentity", kStsNs));
  Reply deleted = Iam("DeleteAccessKey", {{"UserName", "alice"}, {"AccessKeyId", alice.credentials.access_key_id}});
  EXPECT_TRUE(IsQueryOk(deleted, "DeleteAccessKey"));
  EXPECT_TRUE(IsQueryError(Sts("GetCallerIdentity", alice.credentials), 403, "InvalidClientTokenId", std::nullopt,
                           kStsNs));
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), alice.credentials), 403, "UnrecognizedClientException"));
  EXPECT_TRUE(IsQueryError(Iam("DeleteAccessKey", {{"UserName", "alice"}, {"AccessKeyId", alice.credentials.access_key_id}}),
                           404, "NoSuchEntity"));
  Reply listed = Iam("ListAccessKeys", {{"UserName", "alice"}});
  EXPECT_TRUE(XmlTexts(listed.body, "AccessKeyId").empty()) << listed.body;
}

// ============================================================== inline policies

TEST_F(IamTest, InlinePolicyRoundTrip) {
  MustIam("CreateUser", {{"UserName", "alice"}});
  const std::string document =
      R"({"Version":"2012-10-17","Statement":[{"Sid":"List","Effect":"Allow","Action":"ecs:List*","Resource":"*"}]})";
  Reply put = Iam("PutUserPolicy", {{"UserName", "alice"}, {"PolicyName", "list"}, {"PolicyDocument", document}});
  EXPECT_TRUE(IsQueryOk(put, "PutUserPolicy"));

  Reply got = Iam("GetUserPolicy", {{"UserName", "alice"}, {"PolicyName", "list"}});
  ASSERT_TRUE(IsQueryOk(got, "GetUserPolicy"));
  EXPECT_EQ(XmlText(got.body, "UserName"), "alice");
  EXPECT_EQ(XmlText(got.body, "PolicyName"), "list");
  // IAM answers the document URL-encoded.
  std::string encoded = XmlText(got.body, "PolicyDocument").value_or("");
  EXPECT_EQ(encoded.find('{'), std::string::npos) << encoded;
  EXPECT_EQ(UrlDecode(encoded), document);

  MustIam("PutUserPolicy", {{"UserName", "alice"}, {"PolicyName", "another"}, {"PolicyDocument", document}});
  Reply listed = Iam("ListUserPolicies", {{"UserName", "alice"}});
  ASSERT_TRUE(IsQueryOk(listed, "ListUserPolicies"));
  EXPECT_EQ(XmlTexts(XmlText(listed.body, "PolicyNames").value_or(""), "member"),
            (std::vector<std::string>{"another", "list"}));
  EXPECT_EQ(XmlText(listed.body, "IsTruncated"), "false");

  Reply deleted = Iam("DeleteUserPolicy", {{"UserName", "alice"}, {"PolicyName", "list"}});
  EXPECT_TRUE(IsQueryOk(deleted, "DeleteUserPolicy"));
  EXPECT_TRUE(IsQueryError(Iam("GetUserPolicy", {{"UserName", "alice"}, {"PolicyName", "list"}}), 404, "NoSuchEntity",
                           "The user policy with name list cannot be found."));
  EXPECT_TRUE(
      IsQueryError(Iam("DeleteUserPolicy", {{"UserName", "alice"}, {"PolicyName", "list"}}), 404, "NoSuchEntity"));
  EXPECT_EQ(XmlTexts(XmlText(Iam("ListUserPolicies", {{"UserName", "alice"}}).body, "PolicyNames").value_or(""), "member"),
            (std::vector<std::string>{"another"}));
  EXPECT_TRUE(IsQueryError(Iam("PutUserPolicy", {{"UserName", "ghost"}, {"PolicyName", "p"}, {"PolicyDocument", document}}),
                           404, "NoSuchEntity"));
}

TEST_F(IamTest, PutUserPolicyReplacesADocumentOfTheSameName) {
  User alice = MakeUser("alice");
  PutPolicy(alice, "p", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:ListClusters","Resource":"*"}]})");
  EXPECT_TRUE(IsJsonOk(Ecs("ListClusters", Json::object(), alice.credentials)));
  PutPolicy(alice, "p", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:ListTasks","Resource":"*"}]})");
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), alice.credentials), 400, "AccessDeniedException"));
  EXPECT_EQ(XmlTexts(Iam("ListUserPolicies", {{"UserName", "alice"}}).body, "member"), (std::vector<std::string>{"p"}));
}

TEST_F(IamTest, MalformedPoliciesAreRefusedWhenWritten) {
  MustIam("CreateUser", {{"UserName", "alice"}});
  auto put = [&](const std::string& document) {
    return Iam("PutUserPolicy", {{"UserName", "alice"}, {"PolicyName", "p"}, {"PolicyDocument", document}});
  };
  // No Resource.
  EXPECT_TRUE(IsQueryError(put(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*"}]})"), 400,
                           "MalformedPolicyDocument"));
  // The seed's placeholder "kms-key-arn" is not an ARN.
  EXPECT_TRUE(IsQueryError(put(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt"],)"
                               R"("Resource":"kms-key-arn"}]})"),
                           400, "MalformedPolicyDocument", "Resource kms-key-arn must be in ARN format or \"*\"."));
  EXPECT_TRUE(IsQueryError(put("{not json"), 400, "MalformedPolicyDocument"));
  EXPECT_TRUE(IsQueryError(put(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*",)"
                               R"("Resource":"*","Principal":"*"}]})"),
                           400, "MalformedPolicyDocument"));
  // Inline user policies are limited to 2048 characters.
  std::string big = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":[)";
  for (int i = 0; i < 60; i++) big += std::string(i ? "," : "") + "\"arn:aws:ecs:us-east-1:123456789012:cluster/c" + std::to_string(i) + "\"";
  big += "]}]}";
  EXPECT_TRUE(IsQueryError(put(big), 409, "LimitExceeded"));
  EXPECT_TRUE(IsQueryError(Iam("PutUserPolicy", {{"UserName", "alice"}, {"PolicyName", "p"}}), 400, "ValidationError"));
  EXPECT_TRUE(IsQueryError(Iam("PutUserPolicy", {{"UserName", "alice"},
                                                 {"PolicyName", "bad name"},
                                                 {"PolicyDocument", R"({"Version":"2012-10-17","Statement":[]})"}}),
                           400, "ValidationError"));
  // Nothing was stored.
  EXPECT_TRUE(XmlTexts(Iam("ListUserPolicies", {{"UserName", "alice"}}).body, "member").empty());
}

// ============================================================== managed policies

TEST_F(IamTest, ManagedPolicyLifecycle) {
  const std::string document =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:ListClusters","Resource":"*"}]})";
  Reply created = Iam("CreatePolicy", {{"PolicyName", "list-clusters"}, {"PolicyDocument", document}});
  ASSERT_TRUE(IsQueryOk(created, "CreatePolicy"));
  auto policy = XmlText(created.body, "Policy");
  ASSERT_TRUE(policy) << created.body;
  const std::string arn = std::string("arn:aws:iam::") + kAccount + ":policy/list-clusters";
  EXPECT_EQ(XmlText(*policy, "PolicyName"), "list-clusters");
  EXPECT_EQ(XmlText(*policy, "Arn"), arn);
  EXPECT_EQ(XmlText(*policy, "Path"), "/");
  EXPECT_EQ(XmlText(*policy, "DefaultVersionId"), "v1");
  EXPECT_EQ(XmlText(*policy, "AttachmentCount"), "0");
  EXPECT_EQ(XmlText(*policy, "IsAttachable"), "true");
  EXPECT_EQ(XmlText(*policy, "PolicyId").value_or("").rfind("ANPA", 0), 0u) << created.body;
  EXPECT_TRUE(XmlText(*policy, "CreateDate"));
  EXPECT_TRUE(XmlText(*policy, "UpdateDate"));

  EXPECT_TRUE(IsQueryError(Iam("CreatePolicy", {{"PolicyName", "list-clusters"}, {"PolicyDocument", document}}), 409,
                           "EntityAlreadyExists"));
  EXPECT_TRUE(IsQueryError(Iam("CreatePolicy", {{"PolicyName", "nores"},
                                                {"PolicyDocument",
                                                 R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*"}]})"}}),
                           400, "MalformedPolicyDocument"));

  Reply got = Iam("GetPolicy", {{"PolicyArn", arn}});
  ASSERT_TRUE(IsQueryOk(got, "GetPolicy"));
  EXPECT_EQ(XmlText(got.body, "Arn"), arn);
  EXPECT_TRUE(IsQueryError(Iam("GetPolicy", {{"PolicyArn", arn + "-missing"}}), 404, "NoSuchEntity"));

  // Attached, the policy grants; detached, it no longer does.
  User alice = MakeUser("alice");
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), alice.credentials), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsQueryOk(Iam("AttachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", arn}}), "AttachUserPolicy"));
  // Attaching twice is not a second attachment.
  MustIam("AttachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", arn}});
  EXPECT_EQ(XmlText(Iam("GetPolicy", {{"PolicyArn", arn}}).body, "AttachmentCount"), "1");
  Reply attached = Iam("ListAttachedUserPolicies", {{"UserName", "alice"}});
  ASSERT_TRUE(IsQueryOk(attached, "ListAttachedUserPolicies"));
  std::vector<std::string> members = XmlTexts(XmlText(attached.body, "AttachedPolicies").value_or(""), "member");
  ASSERT_EQ(members.size(), 1u) << attached.body;
  EXPECT_EQ(XmlText(members[0], "PolicyName"), "list-clusters");
  EXPECT_EQ(XmlText(members[0], "PolicyArn"), arn);
  EXPECT_EQ(XmlText(attached.body, "IsTruncated"), "false");

  NewAuditEvents();
  EXPECT_TRUE(IsJsonOk(Ecs("ListClusters", Json::object(), alice.credentials)));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:ListClusters", "*", "Allow", arn, "#0"));

  EXPECT_TRUE(IsQueryOk(Iam("DetachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", arn}}), "DetachUserPolicy"));
  EXPECT_EQ(XmlText(Iam("GetPolicy", {{"PolicyArn", arn}}).body, "AttachmentCount"), "0");
  EXPECT_TRUE(XmlTexts(Iam("ListAttachedUserPolicies", {{"UserName", "alice"}}).body, "member").empty());
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), alice.credentials), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsQueryError(Iam("DetachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", arn}}), 404, "NoSuchEntity"));
  EXPECT_TRUE(IsQueryError(Iam("AttachUserPolicy", {{"UserName", "alice"}, {"PolicyArn", arn + "-missing"}}), 404,
                           "NoSuchEntity"));
  EXPECT_TRUE(IsQueryError(Iam("AttachUserPolicy", {{"UserName", "ghost"}, {"PolicyArn", arn}}), 404, "NoSuchEntity"));
}

// ============================================================== authorization

TEST_F(IamTest, UserWithoutPoliciesIsDeniedIamAndEcs) {
  User bob = MakeUser("bob");
  NewAuditEvents();

  Reply iam = Iam("CreateUser", {{"UserName", "carol"}}, bob.credentials);
  EXPECT_TRUE(IsQueryError(iam, 403, "AccessDenied", NotAuthorized(UserArn("bob"), "iam:CreateUser", UserArn("carol"))));
  EXPECT_TRUE(AuditedOnce(UserArn("bob"), "iam:CreateUser", UserArn("carol"), "ImplicitDeny", "", ""));
  EXPECT_TRUE(IsQueryError(Iam("GetUser", {{"UserName", "carol"}}), 404, "NoSuchEntity")) << "carol was created";

  Reply ecs = Ecs("ListClusters", Json::object(), bob.credentials);
  EXPECT_TRUE(IsJsonError(ecs, 400, "AccessDeniedException", NotAuthorized(UserArn("bob"), "ecs:ListClusters", "*")));
  EXPECT_TRUE(AuditedOnce(UserArn("bob"), "ecs:ListClusters", "*", "ImplicitDeny", "", ""));

  // The root's IAM calls are audited as well.
  MustIam("CreateUser", {{"UserName", "carol"}});
  EXPECT_TRUE(AuditedOnce(RootArn(), "iam:CreateUser", UserArn("carol"), "Allow", "account root", ""));
}

TEST_F(IamTest, UserCannotGrantHimselfPermissions) {
  User bob = MakeUser("bob");
  Reply reply = Iam("PutUserPolicy",
                    {{"UserName", "bob"},
                     {"PolicyName", "all"},
                     {"PolicyDocument", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})"}},
                    bob.credentials);
  EXPECT_TRUE(IsQueryError(reply, 403, "AccessDenied", NotAuthorized(UserArn("bob"), "iam:PutUserPolicy", UserArn("bob"))));
  EXPECT_TRUE(XmlTexts(Iam("ListUserPolicies", {{"UserName", "bob"}}).body, "member").empty());
  // Nor make himself a second key.
  EXPECT_TRUE(IsQueryError(Iam("CreateAccessKey", {}, bob.credentials), 403, "AccessDenied"));
}

TEST_F(IamTest, ExplicitDenyBeatsAllowInIam) {
  User admin = MakeUser("admin");
  PutPolicy(admin, "all", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]})");
  PutPolicy(admin, "no-keys",
            R"({"Version":"2012-10-17","Statement":[{"Sid":"NoKeys","Effect":"Deny","Action":"iam:CreateAccessKey","Resource":"*"}]})");
  NewAuditEvents();
  EXPECT_TRUE(IsQueryOk(Iam("CreateUser", {{"UserName", "carol"}}, admin.credentials), "CreateUser"));
  EXPECT_TRUE(AuditedOnce(admin.arn, "iam:CreateUser", UserArn("carol"), "Allow", "user/admin/inline/all", "#0"));
  EXPECT_TRUE(IsQueryError(Iam("CreateAccessKey", {{"UserName", "carol"}}, admin.credentials), 403, "AccessDenied",
                           ExplicitlyDenied(admin.arn, "iam:CreateAccessKey", UserArn("carol"))));
  EXPECT_TRUE(AuditedOnce(admin.arn, "iam:CreateAccessKey", UserArn("carol"), "ExplicitDeny",
                          "user/admin/inline/no-keys", "NoKeys"));
}

TEST_F(IamTest, TaskCredentialsCannotCallIam) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  const std::string& node = Node();
  MustEcs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"enableExecuteCommand", true}});
  Reply poll = Send(JsonRequest(kNode + "PollTasks", {{"instanceId", node}, {"waitSeconds", 0}}, node_credentials_, "ecs"));
  ASSERT_TRUE(IsJsonOk(poll));
  std::optional<auth::Credentials> agent;
  for (const auto& t : poll.json.value("tasks", Json::array()))
    if (t.contains("agent")) {
      const Json& c = t["agent"]["credentials"]["app"];
      agent = auth::Credentials{c.value("accessKeyId", ""), c.value("secretAccessKey", ""), c.value("sessionToken", "")};
    }
  ASSERT_TRUE(agent) << poll.body;
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "mallory"}}, *agent), 403, "AccessDenied"));
  EXPECT_TRUE(IsQueryError(Iam("GetUser", {{"UserName", "mallory"}}), 404, "NoSuchEntity"));
}

// ---------------------------------------------------------- the seed's policies (E26, E27)

// "users can run commands in containers that are running within tasks with a
// tag that has an environment key and development value and in a cluster
// that's named cluster-name" — with region, account and cluster filled in.
constexpr char kSeedExecuteCommandAllow[] = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:ExecuteCommand",
                "ecs:DescribeTasks"
            ],
            "Resource": "arn:aws:ecs:us-east-1:123456789012:task/demo/*",
            "Condition": {
                "StringEquals": {
                    "ecs:ResourceTag/environment": "development"
                }
            }
        }
    ]
})";

// "users can't use the execute-command API when the container name is production-app".
constexpr char kSeedProductionAppDeny[] = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": [
                "ecs:ExecuteCommand"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "ecs:container-name": "production-app"
                }
            }
        }
    ]
})";

// "users can only launch tasks when ECS Exec is turned off".
constexpr char kSeedRunTaskWithoutExec[] = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:RunTask",
                "ecs:StartTask",
                "ecs:CreateService",
                "ecs:UpdateService"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "ecs:enable-execute-command": "false"
                }
            }
        }
    ]
})";

// "denies access to the ssm:start-session action for tasks in all Regions
// with a specified cluster name" (the seed's 111122223333 is our account).
constexpr char kSeedStartSessionDenyByCluster[] = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "ssm:StartSession",
            "Resource": "arn:aws:ecs:*:123456789012:task/demo/*"
        }
    ]
})";

// "denies access to the ssm:start-session action on resources in all Regions
// tagged with tag key Task-Tag-Key and tag value Exec-Task".
constexpr char kSeedStartSessionDenyByTag[] = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "ssm:StartSession",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/Task-Tag-Key": "Exec-Task"
                }
            }
        }
    ]
})";

Json Tags(const std::string& key, const std::string& value) { return Json::array({{{"key", key}, {"value", value}}}); }

TEST_F(IamTest, SeedPoliciesAreAcceptedAsWritten) {
  User alice = MakeUser("alice");
  for (const char* document : {kSeedExecuteCommandAllow, kSeedProductionAppDeny, kSeedRunTaskWithoutExec,
                               kSeedStartSessionDenyByCluster, kSeedStartSessionDenyByTag}) {
    EXPECT_TRUE(IsQueryOk(Iam("PutUserPolicy", {{"UserName", "alice"}, {"PolicyName", "seed"}, {"PolicyDocument", document}}),
                          "PutUserPolicy"))
        << document;
  }
}

TEST_F(IamTest, SeedExecuteCommandAllowNeedsTheTagAndTheCluster) {
  CreateCluster("demo");
  CreateCluster("other");
  RegisterFamily("web", {"app"});
  Json tagged = RunningExecTask("demo", "web", Tags("environment", "development"));
  Json untagged = RunningExecTask("demo", "web");
  Json production = RunningExecTask("demo", "web", Tags("environment", "production"));
  Json elsewhere = RunningExecTask("other", "web", Tags("environment", "development"));
  User alice = MakeUser("alice");
  PutPolicy(alice, "exec-dev", kSeedExecuteCommandAllow);
  NewAuditEvents();

  // Allowed: the tagged task in the named cluster; the session is alice's.
  Reply allowed = ExecAs(alice, "demo", tagged, "app");
  ASSERT_TRUE(IsJsonOk(allowed));
  EXPECT_EQ(allowed.json["taskArn"], tagged["taskArn"]);
  EXPECT_EQ(allowed.json["session"]["sessionId"], "ecs-execute-command-0123456789abcdef0");
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:ExecuteCommand", tagged["taskArn"], "Allow", "user/alice/inline/exec-dev", "#0"));
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].principal_arn, alice.arn);
  EXPECT_EQ(broker_.requests[0].task_arn, tagged["taskArn"]);

  // Denied: no tag, another value, another cluster.
  for (const auto& [task, cluster] : {std::pair<Json, std::string>{untagged, "demo"},
                                      {production, "demo"},
                                      {elsewhere, "other"}}) {
    std::string arn = task["taskArn"];
    EXPECT_TRUE(IsJsonError(ExecAs(alice, cluster, task, "app"), 400, "AccessDeniedException",
                            NotAuthorized(alice.arn, "ecs:ExecuteCommand", arn)));
    EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:ExecuteCommand", arn, "ImplicitDeny", "", ""));
  }
  EXPECT_EQ(broker_.requests.size(), 1u) << "a denied ExecuteCommand reached the gateway";
}

TEST_F(IamTest, SeedExecuteCommandAllowCountsClusterTagsAndTaskTagsWin) {
  // The cluster carries the tag; a task without it inherits the match ...
  CreateCluster("demo", Tags("environment", "development"));
  RegisterFamily("web", {"app"});
  Json plain = RunningExecTask("demo", "web");
  // ... a task's own tag of that key overrides the cluster's.
  Json overriding = RunningExecTask("demo", "web", Tags("environment", "production"));
  User alice = MakeUser("alice");
  PutPolicy(alice, "exec-dev", kSeedExecuteCommandAllow);
  EXPECT_TRUE(IsJsonOk(ExecAs(alice, "demo", plain, "app")));
  EXPECT_TRUE(IsJsonError(ExecAs(alice, "demo", overriding, "app"), 400, "AccessDeniedException"));

  // Tags added later count (TagResource on the task, by root).
  std::string overriding_arn = overriding["taskArn"];
  MustEcs("TagResource", {{"resourceArn", overriding_arn}, {"tags", Tags("environment", "development")}});
  EXPECT_TRUE(IsJsonOk(ExecAs(alice, "demo", overriding, "app")));
}

// The same statement allows ecs:DescribeTasks, also on tagged tasks of the
// cluster only.
TEST_F(IamTest, SeedExecuteCommandAllowAlsoAllowsDescribeTasksOfTaggedTasks) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Json tagged = RunningExecTask("demo", "web", Tags("environment", "development"));
  Json untagged = RunningExecTask("demo", "web");
  User alice = MakeUser("alice");
  PutPolicy(alice, "exec-dev", kSeedExecuteCommandAllow);
  std::string tagged_arn = tagged["taskArn"], untagged_arn = untagged["taskArn"];
  NewAuditEvents();

  Reply described = Ecs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({tagged_arn})}}, alice.credentials);
  ASSERT_TRUE(IsJsonOk(described));
  ASSERT_EQ(described.json["tasks"].size(), 1u) << described.body;
  EXPECT_EQ(described.json["tasks"][0]["taskArn"], tagged_arn);
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:DescribeTasks", tagged_arn, "Allow", "user/alice/inline/exec-dev", "#0"));

  EXPECT_TRUE(IsJsonError(Ecs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({untagged_arn})}},
                              alice.credentials),
                          400, "AccessDeniedException", NotAuthorized(alice.arn, "ecs:DescribeTasks", untagged_arn)));
  // One untagged task among those asked for denies the call.
  EXPECT_TRUE(IsJsonError(Ecs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({tagged_arn, untagged_arn})}},
                              alice.credentials),
                          400, "AccessDeniedException"));
}

TEST_F(IamTest, TaskTagConditionsApplyToStopTask) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Json tagged = RunningExecTask("demo", "web", Tags("environment", "development"));
  Json untagged = RunningExecTask("demo", "web");
  User alice = MakeUser("alice");
  PutPolicy(alice, "stop-dev",
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:StopTask","Resource":"*",)"
            R"("Condition":{"StringEquals":{"aws:ResourceTag/environment":"development"}}}]})");
  std::string untagged_arn = untagged["taskArn"];
  EXPECT_TRUE(IsJsonError(Ecs("StopTask", {{"cluster", "demo"}, {"task", untagged_arn}}, alice.credentials), 400,
                          "AccessDeniedException", NotAuthorized(alice.arn, "ecs:StopTask", untagged_arn)));
  Reply stopped = Ecs("StopTask", {{"cluster", "demo"}, {"task", tagged["taskArn"]}}, alice.credentials);
  ASSERT_TRUE(IsJsonOk(stopped));
  EXPECT_EQ(stopped.json["task"]["desiredStatus"], "STOPPED") << stopped.body;
}

TEST_F(IamTest, SeedProductionAppDenyWinsOverTheAllow) {
  CreateCluster("demo");
  RegisterFamily("web", {"app", "production-app"});
  Json task = RunningExecTask("demo", "web", Tags("environment", "development"));
  std::string arn = task["taskArn"];
  User alice = MakeUser("alice");
  PutPolicy(alice, "exec-dev", kSeedExecuteCommandAllow);
  PutPolicy(alice, "no-production-app", kSeedProductionAppDeny);
  NewAuditEvents();

  EXPECT_TRUE(IsJsonError(ExecAs(alice, "demo", task, "production-app"), 400, "AccessDeniedException",
                          ExplicitlyDenied(alice.arn, "ecs:ExecuteCommand", arn)));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:ExecuteCommand", arn, "ExplicitDeny", "user/alice/inline/no-production-app",
                          "#0"));
  EXPECT_TRUE(broker_.requests.empty());

  Reply app = ExecAs(alice, "demo", task, "app");
  ASSERT_TRUE(IsJsonOk(app));
  EXPECT_EQ(app.json["containerName"], "app");
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:ExecuteCommand", arn, "Allow", "user/alice/inline/exec-dev", "#0"));
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].container_name, "app");

  // The deny holds even for a user allowed everything (and names its Sid).
  User admin = MakeUser("admin");
  PutPolicy(admin, "all", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})");
  std::string with_sid = kSeedProductionAppDeny;
  with_sid.replace(with_sid.find("\"Effect\": \"Deny\""), 0, "\"Sid\": \"NoProductionApp\", ");
  PutPolicy(admin, "no-production-app", with_sid);
  NewAuditEvents();
  EXPECT_TRUE(IsJsonError(ExecAs(admin, "demo", task, "production-app"), 400, "AccessDeniedException",
                          ExplicitlyDenied(admin.arn, "ecs:ExecuteCommand", arn)));
  EXPECT_TRUE(AuditedOnce(admin.arn, "ecs:ExecuteCommand", arn, "ExplicitDeny", "user/admin/inline/no-production-app",
                          "NoProductionApp"));
}

TEST_F(IamTest, SeedRunTaskOnlyWithExecTurnedOff) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Node();
  User alice = MakeUser("alice");
  PutPolicy(alice, "no-exec", kSeedRunTaskWithoutExec);
  const std::string definition = std::string("arn:aws:ecs:") + kRegion + ":" + kAccount + ":task-definition/web:1";
  NewAuditEvents();

  Reply off = Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"enableExecuteCommand", false}},
                  alice.credentials);
  ASSERT_TRUE(IsJsonOk(off));
  EXPECT_EQ(off.json["tasks"].size(), 1u) << off.body;
  EXPECT_EQ(off.json["tasks"][0]["enableExecuteCommand"], false);
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:RunTask", definition, "Allow", "user/alice/inline/no-exec", "#0"));

  // Not asking for exec is asking for it off.
  EXPECT_TRUE(IsJsonOk(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}}, alice.credentials)));
  NewAuditEvents();

  Reply on = Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"enableExecuteCommand", true}},
                 alice.credentials);
  EXPECT_TRUE(IsJsonError(on, 400, "AccessDeniedException", NotAuthorized(alice.arn, "ecs:RunTask", definition)));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:RunTask", definition, "ImplicitDeny", "", ""));

  // Only the two allowed RunTasks started tasks.
  Json listed = MustEcs("ListTasks", {{"cluster", "demo"}});
  EXPECT_EQ(listed["taskArns"].size(), 2u) << listed.dump();
}

// The same seed policy governs StartTask, which places on named container instances.
TEST_F(IamTest, SeedStartTaskOnlyWithExecTurnedOff) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  const std::string node = Node();
  User alice = MakeUser("alice");
  PutPolicy(alice, "no-exec", kSeedRunTaskWithoutExec);
  const std::string definition = std::string("arn:aws:ecs:") + kRegion + ":" + kAccount + ":task-definition/web:1";

  Reply off = Ecs("StartTask", {{"cluster", "demo"}, {"taskDefinition", "web"},
                                {"containerInstances", Json::array({node, "no-such-instance"})}},
                  alice.credentials);
  ASSERT_TRUE(IsJsonOk(off));
  ASSERT_EQ(off.json["tasks"].size(), 1u) << off.body;
  EXPECT_NE(off.json["tasks"][0]["containerInstanceArn"].get<std::string>().find(node), std::string::npos);
  ASSERT_EQ(off.json["failures"].size(), 1u) << off.body;
  EXPECT_EQ(off.json["failures"][0]["reason"], "MISSING");

  Reply on = Ecs("StartTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"enableExecuteCommand", true},
                               {"containerInstances", Json::array({node})}},
                 alice.credentials);
  EXPECT_TRUE(IsJsonError(on, 400, "AccessDeniedException", NotAuthorized(alice.arn, "ecs:StartTask", definition)));
  EXPECT_TRUE(IsJsonError(Ecs("StartTask", {{"cluster", "demo"}, {"taskDefinition", "web"}}), 400,
                          "InvalidParameterException"));
}

TEST_F(IamTest, RunTaskKeysNameTheCluster) {
  CreateCluster("demo");
  CreateCluster("other");
  RegisterFamily("web", {"app"});
  Node();
  User alice = MakeUser("alice");
  PutPolicy(alice, "demo-only",
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"*",)"
            R"("Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/demo"}}}]})");
  EXPECT_TRUE(IsJsonOk(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}}, alice.credentials)));
  EXPECT_TRUE(IsJsonError(Ecs("RunTask", {{"cluster", "other"}, {"taskDefinition", "web"}}, alice.credentials), 400,
                          "AccessDeniedException"));
}

TEST_F(IamTest, ExecuteCommandConditionKeys) {
  // ecs:cluster, ecs:task and ecs:container-name (E26), with ARN and string operators.
  CreateCluster("demo");
  RegisterFamily("web", {"app", "sidecar"});
  Json first = RunningExecTask("demo", "web");
  Json second = RunningExecTask("demo", "web");
  std::string first_arn = first["taskArn"];
  User alice = MakeUser("alice");
  PutPolicy(alice, "keys",
            R"({"Version":"2012-10-17","Statement":[{"Sid":"OneTaskSidecar","Effect":"Allow","Action":"ecs:ExecuteCommand",)"
            R"("Resource":"*","Condition":{)"
            R"("ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/demo"},)"
            R"("StringEquals":{"ecs:task":")" +
                first_arn + R"(","ecs:container-name":"sidecar"}}}]})");
  NewAuditEvents();
  EXPECT_TRUE(IsJsonOk(ExecAs(alice, "demo", first, "sidecar")));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ecs:ExecuteCommand", first_arn, "Allow", "user/alice/inline/keys", "OneTaskSidecar"));
  EXPECT_TRUE(IsJsonError(ExecAs(alice, "demo", first, "app"), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonError(ExecAs(alice, "demo", second, "sidecar"), 400, "AccessDeniedException"));
}

// ---------------------------------------------------------- ssm:StartSession (E28)

TEST_F(IamTest, SeedStartSessionDenyByClusterWildcard) {
  CreateCluster("demo");
  CreateCluster("other");
  RegisterFamily("web", {"app"});
  Json in_demo = RunningExecTask("demo", "web");
  Json in_other = RunningExecTask("other", "web");
  User alice = MakeUser("alice");
  PutPolicy(alice, "sessions",
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:StartSession","ecs:ExecuteCommand"],"Resource":"*"}]})");
  PutPolicy(alice, "no-demo-sessions", kSeedStartSessionDenyByCluster);
  NewAuditEvents();

  std::string demo_arn = in_demo["taskArn"];
  EXPECT_TRUE(IsJsonError(StartSessionAs(alice, "demo", in_demo, "app"), 400, "AccessDeniedException",
                          ExplicitlyDenied(alice.arn, "ssm:StartSession", demo_arn)));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ssm:StartSession", demo_arn, "ExplicitDeny", "user/alice/inline/no-demo-sessions",
                          "#0"));
  EXPECT_TRUE(broker_.requests.empty());

  std::string other_arn = in_other["taskArn"];
  Reply other = StartSessionAs(alice, "other", in_other, "app");
  ASSERT_TRUE(IsJsonOk(other));
  EXPECT_EQ(other.json.value("SessionId", ""), "ecs-execute-command-0123456789abcdef0") << other.body;
  EXPECT_TRUE(AuditedOnce(alice.arn, "ssm:StartSession", other_arn, "Allow", "user/alice/inline/sessions", "#0"));

  // ExecuteCommand on the same task is not affected: only the side door is shut.
  EXPECT_TRUE(IsJsonOk(ExecAs(alice, "demo", in_demo, "app")));
}

TEST_F(IamTest, SeedStartSessionDenyByResourceTag) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Json tagged = RunningExecTask("demo", "web", Tags("Task-Tag-Key", "Exec-Task"));
  Json untagged = RunningExecTask("demo", "web");
  User alice = MakeUser("alice");
  PutPolicy(alice, "sessions", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*"}]})");
  PutPolicy(alice, "no-exec-task-sessions", kSeedStartSessionDenyByTag);
  NewAuditEvents();

  std::string tagged_arn = tagged["taskArn"];
  EXPECT_TRUE(IsJsonError(StartSessionAs(alice, "demo", tagged, "app"), 400, "AccessDeniedException",
                          ExplicitlyDenied(alice.arn, "ssm:StartSession", tagged_arn)));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ssm:StartSession", tagged_arn, "ExplicitDeny",
                          "user/alice/inline/no-exec-task-sessions", "#0"));

  std::string untagged_arn = untagged["taskArn"];
  EXPECT_TRUE(IsJsonOk(StartSessionAs(alice, "demo", untagged, "app")));
  EXPECT_TRUE(AuditedOnce(alice.arn, "ssm:StartSession", untagged_arn, "Allow", "user/alice/inline/sessions", "#0"));

  // A cluster tag of that key makes every task in it match.
  MustEcs("TagResource", {{"resourceArn", std::string("arn:aws:ecs:") + kRegion + ":" + kAccount + ":cluster/demo"},
                          {"tags", Tags("Task-Tag-Key", "Exec-Task")}});
  EXPECT_TRUE(IsJsonError(StartSessionAs(alice, "demo", untagged, "app"), 400, "AccessDeniedException",
                          ExplicitlyDenied(alice.arn, "ssm:StartSession", untagged_arn)));
}

TEST_F(IamTest, StartSessionWithoutAnAllowIsImplicitlyDenied) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Json task = RunningExecTask("demo", "web");
  User alice = MakeUser("alice");
  // ecs:ExecuteCommand does not grant ssm:StartSession.
  PutPolicy(alice, "exec", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:ExecuteCommand","Resource":"*"}]})");
  std::string arn = task["taskArn"];
  EXPECT_TRUE(IsJsonError(StartSessionAs(alice, "demo", task, "app"), 400, "AccessDeniedException",
                          NotAuthorized(alice.arn, "ssm:StartSession", arn)));
  EXPECT_TRUE(broker_.requests.empty());
}

// ---- roles and AssumeRole ----

std::string TrustAccountRoot() {
  return std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::)") +
         kAccount + R"(:root"},"Action":"sts:AssumeRole"}]})";
}

// A trust policy is a policy with a Principal: one without is malformed.
TEST_F(IamTest, CreateRoleValidatesItsTrustPolicy) {
  EXPECT_TRUE(IsQueryError(
      Iam("CreateRole", {{"RoleName", "ops"},
                         {"AssumeRolePolicyDocument",
                          R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]})"}}),
      400, "MalformedPolicyDocument"));
  std::string created = MustIam("CreateRole", {{"RoleName", "ops"}, {"AssumeRolePolicyDocument", TrustAccountRoot()}});
  EXPECT_EQ(XmlText(created, "Arn").value_or(""), std::string("arn:aws:iam::") + kAccount + ":role/ops");
  EXPECT_TRUE(XmlText(created, "RoleId").value_or("").rfind("AROA", 0) == 0);
  EXPECT_TRUE(IsQueryError(Iam("CreateRole", {{"RoleName", "ops"}, {"AssumeRolePolicyDocument", TrustAccountRoot()}}),
                           409, "EntityAlreadyExists"));
  EXPECT_TRUE(IsQueryError(Iam("GetRole", {{"RoleName", "nobody"}}), 404, "NoSuchEntity"));
  std::string listed = MustIam("ListRoles");
  EXPECT_EQ(XmlTexts(listed, "RoleName").size(), 1u);
}

// Role policies decide what the assumed role may do; its session is
// "arn:aws:sts::<account>:assumed-role/<role>/<session>".
TEST_F(IamTest, AssumedRoleIsBoundByTheRolePolicies) {
  MustIam("CreateRole", {{"RoleName", "ops"}, {"AssumeRolePolicyDocument", TrustAccountRoot()}});
  MustIam("PutRolePolicy",
          {{"RoleName", "ops"},
           {"PolicyName", "list"},
           {"PolicyDocument",
            R"({"Version":"2012-10-17","Statement":[{"Sid":"List","Effect":"Allow","Action":"ecs:ListClusters","Resource":"*"}]})"}});
  Reply assumed = StsWith("AssumeRole", {{"RoleArn", std::string("arn:aws:iam::") + kAccount + ":role/ops"},
                                         {"RoleSessionName", "oncall"}});
  ASSERT_TRUE(IsQueryOk(assumed, "AssumeRole", kStsNs));
  auth::Credentials creds{XmlText(assumed.body, "AccessKeyId").value_or(""),
                          XmlText(assumed.body, "SecretAccessKey").value_or(""),
                          XmlText(assumed.body, "SessionToken").value_or("")};
  ASSERT_TRUE(creds.access_key_id.rfind("ASIA", 0) == 0);
  Reply who = Sts("GetCallerIdentity", creds);
  EXPECT_EQ(XmlText(who.body, "Arn").value_or(""),
            std::string("arn:aws:sts::") + kAccount + ":assumed-role/ops/oncall");
  EXPECT_TRUE(IsJsonOk(Ecs("ListClusters", Json::object(), creds)));
  EXPECT_TRUE(IsJsonError(Ecs("CreateCluster", {{"clusterName", "x"}}, creds), 400, "AccessDeniedException"));
  // Without the session token the keys are worthless.
  auth::Credentials tokenless = creds;
  tokenless.session_token.clear();
  EXPECT_EQ(Ecs("ListClusters", Json::object(), tokenless).status, 403);
}

// AssumeRole needs the role's trust policy to allow the caller, and (for a
// user) the caller's own policy too.
TEST_F(IamTest, AssumeRoleNeedsTrustAndPermission) {
  User alice = MakeUser("alice");
  std::string role_arn = std::string("arn:aws:iam::") + kAccount + ":role/ops";
  std::string trust_bob = std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::)") +
                          kAccount + R"(:user/bob"},"Action":"sts:AssumeRole"}]})";
  MustIam("CreateRole", {{"RoleName", "ops"}, {"AssumeRolePolicyDocument", trust_bob}});
  PutPolicy(alice, "assume",
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]})");
  EXPECT_TRUE(IsQueryError(StsWith("AssumeRole", {{"RoleArn", role_arn}, {"RoleSessionName", "s1"}}, alice.credentials),
                           403, "AccessDenied", std::nullopt, kStsNs));
  std::string trust_alice = std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::)") +
                            kAccount + R"(:user/alice"},"Action":"sts:AssumeRole"}]})";
  MustIam("DeleteRole", {{"RoleName", "ops"}});
  MustIam("CreateRole", {{"RoleName", "ops"}, {"AssumeRolePolicyDocument", trust_alice}});
  EXPECT_TRUE(IsQueryOk(StsWith("AssumeRole", {{"RoleArn", role_arn}, {"RoleSessionName", "s1"}}, alice.credentials),
                        "AssumeRole", kStsNs));
  EXPECT_TRUE(IsQueryError(StsWith("AssumeRole", {{"RoleArn", role_arn + "x"}, {"RoleSessionName", "s1"}}, alice.credentials),
                           403, "AccessDenied", std::nullopt, kStsNs));
}

// ---- task roles (issue 3 item 4, E6) ----

class TaskRoleTest : public IamTest {
 protected:
  static std::string TrustEcsTasks() {
    return R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]})";
  }
  static std::string SsmMessages() {
    return R"({"Version":"2012-10-17","Statement":[{"Sid":"Agent","Effect":"Allow","Action":["ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"}]})";
  }
  std::string MakeRole(const std::string& name, const std::string& trust, bool with_ssmmessages) {
    std::string created = MustIam("CreateRole", {{"RoleName", name}, {"AssumeRolePolicyDocument", trust}});
    if (with_ssmmessages)
      MustIam("PutRolePolicy", {{"RoleName", name}, {"PolicyName", "agent"}, {"PolicyDocument", SsmMessages()}});
    return XmlText(created, "Arn").value_or("");
  }
  // Runs an exec task of a one-container family with `role_arn`, polls as the
  // node and returns {task, the agent's credentials if any were issued}.
  std::pair<Json, std::optional<auth::Credentials>> RunWithRole(const std::string& family, const std::string& role_arn,
                                                                const std::string& launch_type = "EC2") {
    Json def = {{"family", family}, {"containerDefinitions", Json::array({{{"name", "app"}, {"image", "busybox"}}})}};
    if (!role_arn.empty()) def["taskRoleArn"] = role_arn;
    MustEcs("RegisterTaskDefinition", def);
    const std::string& node = Node();
    Json task = MustEcs("RunTask", {{"cluster", "demo"}, {"taskDefinition", family}, {"enableExecuteCommand", true},
                                    {"launchType", launch_type}})["tasks"][0];
    Reply poll = Send(JsonRequest(kNode + "PollTasks", {{"instanceId", node}, {"waitSeconds", 0}}, node_credentials_, "ecs"));
    for (const auto& t : poll.json.value("tasks", Json::array())) {
      if (t["taskArn"] != task["taskArn"] || !t.contains("agent")) continue;
      const Json& c = t["agent"]["credentials"]["app"];
      return {task, auth::Credentials{c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]}};
    }
    return {task, std::nullopt};
  }
  std::optional<Caller> AgentCaller(const auth::Credentials& creds) {
    net::HttpRequest request;
    request.method = "GET";
    request.target = "/v1/control-channel/x";
    request.headers.emplace_back("Host", "127.0.0.1:8443");
    auth::SignRequest(request, creds, kRegion, "ssmmessages", std::time(nullptr));
    auto caller = plane_->Authenticate(request, "ssmmessages");
    if (!caller) return std::nullopt;
    return *caller;
  }
  Json AgentOf(const Json& task) {
    Json described = MustEcs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({task["taskArn"]})}});
    return described["tasks"][0]["containers"][0]["managedAgents"][0];
  }
};

TEST_F(TaskRoleTest, RoleWithTheFourActionsLetsTheAgentConnect) {
  CreateCluster("demo");
  auto [task, creds] = RunWithRole("ok", MakeRole("exec-ok", TrustEcsTasks(), true));
  ASSERT_TRUE(creds.has_value());
  auto caller = AgentCaller(*creds);
  ASSERT_TRUE(caller.has_value());
  for (const char* action : {"ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel",
                             "ssmmessages:CreateDataChannel", "ssmmessages:OpenDataChannel"})
    EXPECT_TRUE(plane_->AuthorizeAgentChannel(*caller, action).ok()) << action;
}

TEST_F(TaskRoleTest, RoleWithoutTheActionsIsRefusedAndTheReasonShows) {
  CreateCluster("demo");
  auto [task, creds] = RunWithRole("none", MakeRole("exec-none", TrustEcsTasks(), false));
  ASSERT_TRUE(creds.has_value());
  auto caller = AgentCaller(*creds);
  ASSERT_TRUE(caller.has_value());
  Status refused = plane_->AuthorizeAgentChannel(*caller, "ssmmessages:CreateControlChannel");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("ssmmessages:CreateControlChannel"), std::string::npos);
  plane_->OnAgentRefused(LastSegment(task["taskArn"]), "app", refused.error().message);
  Json agent = AgentOf(task);
  EXPECT_EQ(agent["lastStatus"], "STOPPED");
  EXPECT_EQ(agent["reason"], refused.error().message);
}

TEST_F(TaskRoleTest, RoleThatDoesNotTrustEcsTasksGetsNoCredentials) {
  CreateCluster("demo");
  auto [task, creds] = RunWithRole("untrusting", MakeRole("not-ecs", TrustAccountRoot(), true));
  EXPECT_FALSE(creds.has_value());
  Json agent = AgentOf(task);
  EXPECT_EQ(agent["lastStatus"], "STOPPED");
  EXPECT_NE(agent.value("reason", "").find("does not trust ecs-tasks.amazonaws.com"), std::string::npos);
}

TEST_F(TaskRoleTest, FargateTaskWithoutRoleGetsNoCredentialsButEc2FallsBackToTheInstance) {
  CreateCluster("demo");
  auto [fargate, none] = RunWithRole("fargate", "", "FARGATE");
  EXPECT_FALSE(none.has_value());
  EXPECT_NE(AgentOf(fargate).value("reason", "").find("no task role"), std::string::npos);
  auto [ec2, creds] = RunWithRole("ec2", "", "EC2");
  ASSERT_TRUE(creds.has_value());
  auto caller = AgentCaller(*creds);
  ASSERT_TRUE(caller.has_value());
  EXPECT_TRUE(plane_->AuthorizeAgentChannel(*caller, "ssmmessages:OpenControlChannel").ok());
}

// The policy simulator answers as IAM's does, for the exec checker (check 2a).
TEST_F(IamTest, SimulatePrincipalPolicyReportsDecisionAndStatement) {
  User alice = MakeUser("alice");
  PutPolicy(alice, "exec", R"({"Version":"2012-10-17","Statement":[
    {"Sid":"Exec","Effect":"Allow","Action":"ecs:ExecuteCommand","Resource":"*","Condition":{"StringEquals":{"ecs:ResourceTag/env":"dev"}}},
    {"Sid":"NoSsm","Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}]})");
  Reply reply = Iam("SimulatePrincipalPolicy", {{"PolicySourceArn", alice.arn},
                                                {"ActionNames.member.1", "ecs:ExecuteCommand"},
                                                {"ActionNames.member.2", "ssm:StartSession"},
                                                {"ActionNames.member.3", "ecs:RunTask"},
                                                {"ContextEntries.member.1.ContextKeyName", "ecs:ResourceTag/env"},
                                                {"ContextEntries.member.1.ContextKeyValues.member.1", "dev"},
                                                {"ContextEntries.member.1.ContextKeyType", "string"}});
  ASSERT_TRUE(IsQueryOk(reply, "SimulatePrincipalPolicy"));
  EXPECT_EQ(XmlTexts(reply.body, "EvalDecision"),
            (std::vector<std::string>{"allowed", "explicitDeny", "implicitDeny"}));
  EXPECT_EQ(XmlTexts(reply.body, "SourcePolicyId").size(), 2u);
  Reply custom = Iam("SimulateCustomPolicy",
                     {{"PolicyInputList.member.1",
                       R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]})"},
                      {"ActionNames.member.1", "ecs:ListTasks"}});
  ASSERT_TRUE(IsQueryOk(custom, "SimulateCustomPolicy"));
  EXPECT_EQ(XmlTexts(custom.body, "EvalDecision"), std::vector<std::string>{"allowed"});
  EXPECT_TRUE(IsQueryError(Iam("SimulatePrincipalPolicy", {{"PolicySourceArn", UserArn("nobody")},
                                                           {"ActionNames.member.1", "ecs:ListTasks"}}),
                           404, "NoSuchEntity"));
}

// ---- services (E7: exec set on a service applies to the tasks it starts next) ----

class ServiceTest : public IamTest {
 protected:
  // Reports every PROVISIONING/PENDING task of the node RUNNING, and every
  // task the control plane wants stopped STOPPED, as a node would.
  void ActAsNode() {
    Reply poll = Send(JsonRequest(kNode + "PollTasks", {{"instanceId", Node()}, {"waitSeconds", 0}}, node_credentials_, "ecs"));
    for (const auto& t : poll.json.value("tasks", Json::array())) {
      std::string status = t["desiredStatus"] == "STOPPED" ? "STOPPED" : "RUNNING";
      Json containers = Json::array();
      for (const auto& c : t["containers"]) containers.push_back({{"name", c["name"]}, {"status", status}});
      Send(JsonRequest(kNode + "SubmitTaskStateChange",
                       {{"taskArn", t["taskArn"]}, {"status", status}, {"containers", containers}}, node_credentials_,
                       "ecs"));
    }
  }
  std::vector<Json> ServiceTasks(const std::string& status) {
    Json listed = MustEcs("ListTasks", {{"cluster", "demo"}, {"desiredStatus", status}});
    std::vector<Json> out;
    for (const auto& arn : listed["taskArns"]) {
      Json d = MustEcs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({arn})}});
      if (d["tasks"][0].value("group", "") == "service:web") out.push_back(d["tasks"][0]);
    }
    return out;
  }
};

TEST_F(ServiceTest, ServiceKeepsItsCountAndAnExecUpdateReplacesItsTasks) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Node();
  Json created = MustEcs("CreateService", {{"cluster", "demo"}, {"serviceName", "web"}, {"taskDefinition", "web"},
                                           {"desiredCount", 2}});
  EXPECT_EQ(created["service"]["serviceArn"],
            std::string("arn:aws:ecs:") + kRegion + ":" + kAccount + ":service/demo/web");
  ActAsNode();
  auto running = ServiceTasks("RUNNING");
  ASSERT_EQ(running.size(), 2u);
  for (const auto& t : running) EXPECT_EQ(t["enableExecuteCommand"], false);

  // Turning exec on starts new tasks with it; the old ones stop once they run.
  MustEcs("UpdateService", {{"cluster", "demo"}, {"service", "web"}, {"enableExecuteCommand", true}});
  ActAsNode();                  // the new tasks run
  plane_->ReconcileServices();  // ...so the old ones are told to stop
  ActAsNode();
  running = ServiceTasks("RUNNING");
  ASSERT_EQ(running.size(), 2u);
  for (const auto& t : running) EXPECT_EQ(t["enableExecuteCommand"], true);
  EXPECT_EQ(ServiceTasks("STOPPED").size(), 2u);

  // A stopped task is replaced.
  MustEcs("StopTask", {{"cluster", "demo"}, {"task", running[0]["taskArn"]}});
  ActAsNode();
  plane_->ReconcileServices();
  EXPECT_EQ(ServiceTasks("RUNNING").size(), 2u);
  ActAsNode();  // the replacement runs
  plane_->ReconcileServices();

  Json described = MustEcs("DescribeServices", {{"cluster", "demo"}, {"services", Json::array({"web", "nope"})}});
  EXPECT_EQ(described["services"][0]["runningCount"], 2);
  EXPECT_EQ(described["failures"][0]["reason"], "MISSING");
  EXPECT_TRUE(IsJsonError(Ecs("DeleteService", {{"cluster", "demo"}, {"service", "web"}}), 400,
                          "InvalidParameterException"));
  MustEcs("DeleteService", {{"cluster", "demo"}, {"service", "web"}, {"force", true}});
  EXPECT_EQ(ServiceTasks("RUNNING").size(), 0u);
  EXPECT_TRUE(MustEcs("ListServices", {{"cluster", "demo"}})["serviceArns"].empty());
}

// The seed's RunTask policy also covers CreateService and UpdateService.
TEST_F(ServiceTest, SeedPolicyAllowsServicesOnlyWithExecTurnedOff) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Node();
  User alice = MakeUser("alice");
  PutPolicy(alice, "no-exec", kSeedRunTaskWithoutExec);
  EXPECT_TRUE(IsJsonOk(Ecs("CreateService", {{"cluster", "demo"}, {"serviceName", "web"}, {"taskDefinition", "web"},
                                             {"desiredCount", 0}},
                           alice.credentials)));
  EXPECT_TRUE(IsJsonError(Ecs("CreateService", {{"cluster", "demo"}, {"serviceName", "web2"}, {"taskDefinition", "web"},
                                                {"enableExecuteCommand", true}},
                              alice.credentials),
                          400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ecs("UpdateService", {{"cluster", "demo"}, {"service", "web"}, {"desiredCount", 1}},
                           alice.credentials)));
  EXPECT_TRUE(IsJsonError(Ecs("UpdateService", {{"cluster", "demo"}, {"service", "web"}, {"enableExecuteCommand", true}},
                              alice.credentials),
                          400, "AccessDeniedException"));
}

// DescribeServices and DeleteService are authorized on the services' own ARNs.
TEST_F(ServiceTest, ServiceCallsAreAuthorizedOnTheServiceArn) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  MustEcs("CreateService", {{"cluster", "demo"}, {"serviceName", "web"}, {"taskDefinition", "web"}, {"desiredCount", 0}});
  MustEcs("CreateService", {{"cluster", "demo"}, {"serviceName", "api"}, {"taskDefinition", "web"}, {"desiredCount", 0}});
  User alice = MakeUser("alice");
  PutPolicy(alice, "web-only",
            std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecs:DescribeServices","ecs:DeleteService"],"Resource":"arn:aws:ecs:)") +
                kRegion + ":" + kAccount + R"(:service/demo/web"}]})");
  EXPECT_TRUE(IsJsonOk(Ecs("DescribeServices", {{"cluster", "demo"}, {"services", Json::array({"web"})}}, alice.credentials)));
  EXPECT_TRUE(IsJsonError(Ecs("DescribeServices", {{"cluster", "demo"}, {"services", Json::array({"web", "api"})}},
                              alice.credentials),
                          400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonError(Ecs("DeleteService", {{"cluster", "demo"}, {"service", "api"}}, alice.credentials), 400,
                          "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ecs("DeleteService", {{"cluster", "demo"}, {"service", "web"}}, alice.credentials)));
}

// A caller without access learns nothing from ExecuteCommand's errors: missing
// clusters, tasks and containers all answer AccessDeniedException first.
TEST_F(IamTest, ExecuteCommandDeniesBeforeRevealingWhatExists) {
  CreateCluster("demo");
  User mallory = MakeUser("mallory");
  auto exec = [&](const std::string& cluster, const std::string& task) {
    return Ecs("ExecuteCommand", {{"cluster", cluster}, {"task", task}, {"command", "sh"}, {"interactive", true}},
               mallory.credentials);
  };
  EXPECT_TRUE(IsJsonError(exec("no-such-cluster", "0123456789abcdef0123456789abcdef"), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonError(exec("demo", "0123456789abcdef0123456789abcdef"), 400, "AccessDeniedException"));
  // Root (allowed everything) gets the real answers.
  EXPECT_TRUE(IsJsonError(Ecs("ExecuteCommand", {{"cluster", "no-such-cluster"}, {"task", "x"}, {"command", "sh"},
                                                 {"interactive", true}}),
                          400, "ClusterNotFoundException"));
  EXPECT_TRUE(IsJsonError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", "x"}, {"command", "sh"},
                                                 {"interactive", true}}),
                          400, "InvalidParameterException"));
}

}  // namespace
}  // namespace porthole::api
