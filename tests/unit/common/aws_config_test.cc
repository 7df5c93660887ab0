#include "common/aws_config.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace porthole {
namespace {

// ---- ParseIni / FormatIni ----

TEST(ParseIniTest, SectionsKeysAndValues) {
  Result<IniFile> ini = ParseIni(
      "[default]\n"
      "aws_access_key_id = AKIDEXAMPLE\n"
      "region=us-west-2\n"
      "\n"
      "[profile dev]\n"
      "  output   =   json  \n");
  ASSERT_TRUE(ini.ok()) << ini.error().message;
  EXPECT_EQ(*ini, (IniFile{{"default", {{"aws_access_key_id", "AKIDEXAMPLE"}, {"region", "us-west-2"}}},
                           {"profile dev", {{"output", "json"}}}}));
}

TEST(ParseIniTest, Comments) {
  Result<IniFile> ini = ParseIni(
      "# leading comment\n"
      "; another\n"
      "[default] ; after a header\n"
      "   # indented comment\n"
      "region = us-east-1 # not a comment inside a value\n"
      "output = text;json\n");
  ASSERT_TRUE(ini.ok()) << ini.error().message;
  EXPECT_EQ(*ini,
            (IniFile{{"default", {{"region", "us-east-1 # not a comment inside a value"}, {"output", "text;json"}}}}));
}

TEST(ParseIniTest, ColonDelimiterAndFirstDelimiterWins) {
  Result<IniFile> ini = ParseIni(
      "[s]\n"
      "region: eu-west-1\n"
      "endpoint_url = http://localhost:4566\n"
      "weird: a=b\n");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(ini->at("s").at("region"), "eu-west-1");
  EXPECT_EQ(ini->at("s").at("endpoint_url"), "http://localhost:4566");
  EXPECT_EQ(ini->at("s").at("weird"), "a=b");
}

TEST(ParseIniTest, KeysLowercasedSectionsNot) {
  Result<IniFile> ini = ParseIni("[Default]\nAWS_Access_Key_ID = X\n");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(*ini, (IniFile{{"Default", {{"aws_access_key_id", "X"}}}}));
}

TEST(ParseIniTest, CrlfBomTabsAndTrimmedHeaders) {
  Result<IniFile> ini = ParseIni("\xEF\xBB\xBF[ default ]\r\n\tregion\t=\tus-east-2\r\n\r\nempty =\r\n");
  ASSERT_TRUE(ini.ok()) << ini.error().message;
  EXPECT_EQ(*ini, (IniFile{{"default", {{"region", "us-east-2"}, {"empty", ""}}}}));
}

TEST(ParseIniTest, NestedSubSectionsStayInsideTheirKey) {
  Result<IniFile> ini = ParseIni(
      "[profile dev]\n"
      "region = us-west-2\n"
      "s3 =\n"
      "    max_concurrent_requests = 20\n"
      "\n"
      "    # a comment inside\n"
      "    addressing_style = path\n"
      "output = json\n"
      "[default]\n"
      "region = us-east-1\n");
  ASSERT_TRUE(ini.ok()) << ini.error().message;
  const auto& dev = ini->at("profile dev");
  EXPECT_EQ(dev.size(), 3u);
  EXPECT_EQ(dev.at("region"), "us-west-2");
  EXPECT_EQ(dev.at("s3"), "\nmax_concurrent_requests = 20\naddressing_style = path");
  EXPECT_EQ(dev.at("output"), "json");
  EXPECT_EQ(dev.count("max_concurrent_requests"), 0u);
  EXPECT_EQ(ini->at("default").at("region"), "us-east-1");
}

TEST(ParseIniTest, IndentedKeysAfterAHeaderAreKeys) {
  Result<IniFile> ini = ParseIni("[a]\n  x = 1\n  y = 2\n");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(*ini, (IniFile{{"a", {{"x", "1"}, {"y", "2"}}}}));
}

TEST(ParseIniTest, EmptyInputsAndEmptySections) {
  for (const char* text : {"", "\n\n", "# only a comment\n", "   \n\t\n"}) {
    Result<IniFile> ini = ParseIni(text);
    ASSERT_TRUE(ini.ok()) << text;
    EXPECT_TRUE(ini->empty());
  }
  Result<IniFile> ini = ParseIni("[a]\n[b]\n");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(*ini, (IniFile{{"a", {}}, {"b", {}}}));
}

TEST(ParseIniTest, NoTrailingNewline) {
  Result<IniFile> ini = ParseIni("[a]\nk = v");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(ini->at("a").at("k"), "v");
}

TEST(ParseIniTest, Errors) {
  struct Case {
    const char* text;
    const char* line;  // expected "line N"
  };
  const Case cases[] = {
      {"region = us-east-1\n", "line 1"},                  // key before any section
      {"[default]\nAKIDSECRETWITHOUTEQUALS\n", "line 2"},  // neither key nor header
      {"[default\nk = v\n", "line 1"},                     // unterminated header
      {"[]\n", "line 1"},                                  // empty section name
      {"[a]\n = v\n", "line 2"},                           // empty key
      {"[a]\nk = 1\n[b]\n[a]\n", "line 4"},                // duplicate section
      {"[a]\nk = 1\nK = 2\n", "line 3"},                   // duplicate key
  };
  for (const Case& c : cases) {
    Result<IniFile> ini = ParseIni(c.text);
    ASSERT_FALSE(ini.ok()) << c.text;
    EXPECT_EQ(ini.error().code, "ConfigParseError");
    EXPECT_NE(ini.error().message.find(c.line), std::string::npos) << ini.error().message;
  }
}

TEST(ParseIniTest, ErrorsDoNotEchoTheLine) {
  Result<IniFile> ini = ParseIni("[default]\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n");
  ASSERT_FALSE(ini.ok());
  EXPECT_EQ(ini.error().message.find("wJalr"), std::string::npos) << ini.error().message;
}

TEST(ParseIniTest, SizeLimit) {
  std::string big = "[a]\n" + std::string(kMaxIniSize, '#');
  Result<IniFile> ini = ParseIni(big);
  ASSERT_FALSE(ini.ok());
  EXPECT_EQ(ini.error().code, "ConfigParseError");
  std::string at_limit = "[a]\n#" + std::string(kMaxIniSize - 5, 'x');
  EXPECT_TRUE(ParseIni(at_limit).ok());
}

TEST(FormatIniTest, Format) {
  IniFile ini{{"default", {{"region", "us-east-1"}, {"output", "json"}}}, {"profile dev", {{"empty", ""}}}};
  EXPECT_EQ(FormatIni(ini),
            "[default]\n"
            "output = json\n"
            "region = us-east-1\n"
            "\n"
            "[profile dev]\n"
            "empty =\n");
  EXPECT_EQ(FormatIni({}), "");
}

TEST(FormatIniTest, RoundTripsWhatParseIniReturns) {
  const char* texts[] = {
      "[default]\nregion = us-east-1\noutput = json\n",
      "[profile dev]\ns3 =\n  max_concurrent_requests = 20\n  addressing_style = path\nregion=x\n",
      "[a]\nmulti = first\n  second\n  third\n[b]\n[c]\nk: v\n",
      "[weird]name]\nk = #v;x\n",
  };
  for (const char* text : texts) {
    Result<IniFile> ini = ParseIni(text);
    ASSERT_TRUE(ini.ok()) << text;
    Result<IniFile> again = ParseIni(FormatIni(*ini));
    ASSERT_TRUE(again.ok()) << FormatIni(*ini);
    EXPECT_EQ(*again, *ini) << FormatIni(*ini);
  }
}

// ---- ResolveAwsSettings ----

// Injected environment and files: no test reads the real ones.
class ResolveTest : public ::testing::Test {
 protected:
  ResolveOptions Options() {
    ResolveOptions options;
    options.env = [this](std::string_view name) -> std::optional<std::string> {
      auto it = env_.find(std::string(name));
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    options.read_file = [this](const std::string& path) -> std::optional<std::string> {
      read_paths_.push_back(path);
      auto it = files_.find(path);
      if (it == files_.end()) return std::nullopt;
      return it->second;
    };
    return options;
  }
  Result<AwsSettings> Resolve() { return ResolveAwsSettings(Options()); }
  Result<AwsSettings> Resolve(const ResolveOptions& options) { return ResolveAwsSettings(options); }

  void Credentials(std::string text) { files_["/home/u/.aws/credentials"] = std::move(text); }
  void Config(std::string text) { files_["/home/u/.aws/config"] = std::move(text); }

  std::map<std::string, std::string> env_{{"HOME", "/home/u"}};
  std::map<std::string, std::string> files_;
  std::vector<std::string> read_paths_;
};

TEST_F(ResolveTest, NothingConfigured) {
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "NoRegion");
  EXPECT_EQ(s.error().message,
            "You must specify a region. You can also configure your region by running \"aws configure\".");
}

TEST_F(ResolveTest, NoCredentialsMessage) {
  env_["AWS_REGION"] = "us-east-1";
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "NoCredentials");
  EXPECT_EQ(s.error().message,
            "Unable to locate credentials. You can configure credentials by running \"aws configure\".");
}

TEST_F(ResolveTest, RequirementsCanBeRelaxed) {
  ResolveOptions options = Options();
  options.require_credentials = false;
  options.require_region = false;
  Result<AwsSettings> s = Resolve(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->profile, "default");
  EXPECT_EQ(s->access_key_id, "");
  EXPECT_EQ(s->region, "");
}

TEST_F(ResolveTest, DefaultFilePathsUnderHome) {
  Credentials("[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n");
  Config("[default]\nregion = eu-central-1\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->profile, "default");
  EXPECT_EQ(s->access_key_id, "AKID");
  EXPECT_EQ(s->secret_access_key, "SECRET");
  EXPECT_EQ(s->session_token, "");
  EXPECT_EQ(s->region, "eu-central-1");
  EXPECT_EQ(read_paths_, (std::vector<std::string>{"/home/u/.aws/credentials", "/home/u/.aws/config"}));
}

TEST_F(ResolveTest, FilePathsFromEnvironmentWithTilde) {
  env_["AWS_SHARED_CREDENTIALS_FILE"] = "/etc/porthole/creds";
  env_["AWS_CONFIG_FILE"] = "~/cfg/aws.ini";
  files_["/etc/porthole/creds"] = "[default]\naws_access_key_id = A\naws_secret_access_key = S\n";
  files_["/home/u/cfg/aws.ini"] = "[default]\nregion = ap-south-1\n";
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->access_key_id, "A");
  EXPECT_EQ(s->region, "ap-south-1");
  EXPECT_EQ(SharedCredentialsFilePath(Options().env), "/etc/porthole/creds");
  EXPECT_EQ(SharedConfigFilePath(Options().env), "/home/u/cfg/aws.ini");
}

TEST_F(ResolveTest, NoHomeMeansNoDefaultFiles) {
  env_.erase("HOME");
  env_["AWS_REGION"] = "us-east-1";
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "NoCredentials");
  EXPECT_TRUE(read_paths_.empty());
  EXPECT_EQ(SharedConfigFilePath(Options().env), "");
}

// -- profile selection --

TEST_F(ResolveTest, ProfileOrder) {
  Credentials(
      "[default]\naws_access_key_id = D\naws_secret_access_key = d\n"
      "[p1]\naws_access_key_id = P1\naws_secret_access_key = s\n"
      "[p2]\naws_access_key_id = P2\naws_secret_access_key = s\n"
      "[p3]\naws_access_key_id = P3\naws_secret_access_key = s\n");
  env_["AWS_REGION"] = "r";

  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->profile, "default");
  EXPECT_EQ(s->access_key_id, "D");

  env_["AWS_DEFAULT_PROFILE"] = "p3";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->profile, "p3");
  EXPECT_EQ(s->access_key_id, "P3");

  env_["AWS_PROFILE"] = "p2";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->profile, "p2");
  EXPECT_EQ(s->access_key_id, "P2");

  ResolveOptions options = Options();
  options.profile = "p1";
  s = Resolve(options);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->profile, "p1");
  EXPECT_EQ(s->access_key_id, "P1");
}

TEST_F(ResolveTest, EmptyValuesCountAsUnset) {
  Credentials("[p2]\naws_access_key_id = P2\naws_secret_access_key = s\n");
  env_["AWS_PROFILE"] = "";
  env_["AWS_DEFAULT_PROFILE"] = "p2";
  env_["AWS_REGION"] = "";
  env_["AWS_DEFAULT_REGION"] = "us-east-2";
  env_["AWS_ACCESS_KEY_ID"] = "";
  ResolveOptions options = Options();
  options.profile = "";
  options.region = "";
  Result<AwsSettings> s = Resolve(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->profile, "p2");
  EXPECT_EQ(s->access_key_id, "P2");
  EXPECT_EQ(s->region, "us-east-2");
}

TEST_F(ResolveTest, UnknownProfileIsAnError) {
  env_["AWS_ACCESS_KEY_ID"] = "ENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "env";
  env_["AWS_REGION"] = "r";
  env_["AWS_PROFILE"] = "nope";
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "ProfileNotFound");
  EXPECT_EQ(s.error().message, "The config profile (nope) could not be found");
}

TEST_F(ResolveTest, ProfileInOnlyOneFileIsFound) {
  Config("[profile only-config]\nregion = r1\n");
  Credentials("[only-creds]\naws_access_key_id = A\naws_secret_access_key = S\n");
  env_["AWS_ACCESS_KEY_ID"] = "ENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "env";
  env_["AWS_PROFILE"] = "only-config";
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->region, "r1");
  env_["AWS_PROFILE"] = "only-creds";
  env_["AWS_REGION"] = "r";
  EXPECT_TRUE(Resolve().ok());
}

// -- credentials --

TEST_F(ResolveTest, EnvironmentCredentialsWinWithoutProfileOption) {
  Credentials(
      "[default]\naws_access_key_id = FILE\naws_secret_access_key = file\n"
      "[dev]\naws_access_key_id = DEV\naws_secret_access_key = dev\n");
  env_["AWS_REGION"] = "r";
  env_["AWS_ACCESS_KEY_ID"] = "ENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  env_["AWS_SESSION_TOKEN"] = "env-token";
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "ENV");
  EXPECT_EQ(s->secret_access_key, "env-secret");
  EXPECT_EQ(s->session_token, "env-token");

  // AWS_PROFILE does not displace environment credentials...
  env_["AWS_PROFILE"] = "dev";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->profile, "dev");
  EXPECT_EQ(s->access_key_id, "ENV");

  // ...but an explicit --profile does.
  ResolveOptions options = Options();
  options.profile = "dev";
  s = Resolve(options);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "DEV");
  EXPECT_EQ(s->session_token, "");
}

TEST_F(ResolveTest, EnvironmentSecurityTokenFallback) {
  env_["AWS_REGION"] = "r";
  env_["AWS_ACCESS_KEY_ID"] = "ENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "s";
  env_["AWS_SECURITY_TOKEN"] = "legacy";
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->session_token, "legacy");
  env_["AWS_SESSION_TOKEN"] = "modern";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->session_token, "modern");
}

TEST_F(ResolveTest, PartialEnvironmentCredentials) {
  env_["AWS_REGION"] = "r";
  env_["AWS_ACCESS_KEY_ID"] = "ENV";
  Credentials("[default]\naws_access_key_id = FILE\naws_secret_access_key = file\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "PartialCredentials");
  EXPECT_EQ(s.error().message, "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY");

  // A secret alone is not a source: the file is used.
  env_.erase("AWS_ACCESS_KEY_ID");
  env_["AWS_SECRET_ACCESS_KEY"] = "orphan";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "FILE");
  EXPECT_EQ(s->secret_access_key, "file");
}

TEST_F(ResolveTest, CredentialsFileBeforeConfigFile) {
  env_["AWS_REGION"] = "r";
  Credentials("[default]\naws_access_key_id = CREDS\naws_secret_access_key = c\naws_session_token = ct\n");
  Config("[default]\naws_access_key_id = CONFIG\naws_secret_access_key = k\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "CREDS");
  EXPECT_EQ(s->session_token, "ct");
}

TEST_F(ResolveTest, ConfigFileCredentialsUseProfilePrefix) {
  env_["AWS_REGION"] = "r";
  Config(
      "[dev]\naws_access_key_id = WRONG\naws_secret_access_key = w\n"
      "[profile dev]\naws_access_key_id = CONFIG\naws_secret_access_key = k\naws_session_token = t\n");
  ResolveOptions options = Options();
  options.profile = "dev";
  Result<AwsSettings> s = Resolve(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->access_key_id, "CONFIG");
  EXPECT_EQ(s->session_token, "t");
}

TEST_F(ResolveTest, CredentialsFileUsesBareProfileName) {
  env_["AWS_REGION"] = "r";
  Credentials(
      "[profile dev]\naws_access_key_id = WRONG\naws_secret_access_key = w\n"
      "[dev]\naws_access_key_id = RIGHT\naws_secret_access_key = r\n");
  ResolveOptions options = Options();
  options.profile = "dev";
  Result<AwsSettings> s = Resolve(options);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "RIGHT");
}

TEST_F(ResolveTest, DefaultProfileInConfigFile) {
  env_["AWS_REGION"] = "r";
  Config("[default]\naws_access_key_id = CONFIG\naws_secret_access_key = k\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "CONFIG");
}

TEST_F(ResolveTest, QuotedAndSpacedProfileSections) {
  env_["AWS_REGION"] = "r";
  Config(
      "[profile 'my team']\naws_access_key_id = TEAM\naws_secret_access_key = t\n"
      "[profile   spaced]\naws_access_key_id = SPACED\naws_secret_access_key = s\n");
  ResolveOptions options = Options();
  options.profile = "my team";
  Result<AwsSettings> s = Resolve(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->access_key_id, "TEAM");
  options.profile = "spaced";
  s = Resolve(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->access_key_id, "SPACED");
}

TEST_F(ResolveTest, PartialFileCredentials) {
  env_["AWS_REGION"] = "r";
  Credentials("[default]\naws_access_key_id = ONLY\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "PartialCredentials");
  EXPECT_EQ(s.error().message, "Partial credentials found in shared-credentials-file, missing: aws_secret_access_key");

  files_.clear();
  Config("[default]\naws_access_key_id = ONLY\n");
  s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "Partial credentials found in config-file, missing: aws_secret_access_key");
}

TEST_F(ResolveTest, SectionWithoutAccessKeyFallsThrough) {
  env_["AWS_REGION"] = "r";
  Credentials("[default]\naws_secret_access_key = orphan\n");
  Config("[default]\naws_access_key_id = CONFIG\naws_secret_access_key = k\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "CONFIG");
  EXPECT_EQ(s->secret_access_key, "k");
}

TEST_F(ResolveTest, CredentialKeysAreCaseInsensitive) {
  env_["AWS_REGION"] = "r";
  Credentials("[default]\nAWS_ACCESS_KEY_ID = UPPER\nAWS_SECRET_ACCESS_KEY = s\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->access_key_id, "UPPER");
}

// -- region --

TEST_F(ResolveTest, RegionOrder) {
  env_["AWS_ACCESS_KEY_ID"] = "A";
  env_["AWS_SECRET_ACCESS_KEY"] = "S";
  Config("[default]\nregion = from-config\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->region, "from-config");

  env_["AWS_DEFAULT_REGION"] = "from-default-region";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->region, "from-default-region");

  env_["AWS_REGION"] = "from-region";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->region, "from-region");

  ResolveOptions options = Options();
  options.region = "from-option";
  s = Resolve(options);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->region, "from-option");
}

TEST_F(ResolveTest, RegionFromTheSelectedProfileOnly) {
  env_["AWS_ACCESS_KEY_ID"] = "A";
  env_["AWS_SECRET_ACCESS_KEY"] = "S";
  env_["AWS_PROFILE"] = "dev";
  Config("[default]\nregion = default-region\n[profile dev]\noutput = json\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "NoRegion");
}

TEST_F(ResolveTest, CredentialsFileSettingsOverlayConfig) {
  Config("[profile dev]\nregion = config-region\nendpoint_url = http://config\n");
  Credentials("[dev]\naws_access_key_id = A\naws_secret_access_key = S\nregion = creds-region\n");
  ResolveOptions options = Options();
  options.profile = "dev";
  Result<AwsSettings> s = Resolve(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->region, "creds-region");
  EXPECT_EQ(s->endpoint_url, "http://config");
}

TEST_F(ResolveTest, RegionCheckedBeforeCredentials) {
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "NoRegion");
}

// -- endpoint and CA bundle --

TEST_F(ResolveTest, EndpointOrder) {
  env_["AWS_ACCESS_KEY_ID"] = "A";
  env_["AWS_SECRET_ACCESS_KEY"] = "S";
  env_["AWS_REGION"] = "r";
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint_url, "");

  Config("[default]\nendpoint_url = https://from-config:8443\n");
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint_url, "https://from-config:8443");

  env_["AWS_ENDPOINT_URL"] = "https://from-env";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint_url, "https://from-env");

  ResolveOptions options = Options();
  options.endpoint_url = "https://from-option";
  s = Resolve(options);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint_url, "https://from-option");
}

TEST_F(ResolveTest, CaBundleOrder) {
  env_["AWS_ACCESS_KEY_ID"] = "A";
  env_["AWS_SECRET_ACCESS_KEY"] = "S";
  env_["AWS_REGION"] = "r";
  Result<AwsSettings> s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ca_bundle, "");

  Config("[default]\nca_bundle = /etc/porthole/ca.pem\n");
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ca_bundle, "/etc/porthole/ca.pem");

  env_["AWS_CA_BUNDLE"] = "/env/ca.pem";
  s = Resolve();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ca_bundle, "/env/ca.pem");
}

// -- files --

TEST_F(ResolveTest, MalformedFileIsAnErrorNamingIt) {
  env_["AWS_REGION"] = "r";
  Config("region = us-east-1\n");
  Result<AwsSettings> s = Resolve();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "ConfigParseError");
  EXPECT_NE(s.error().message.find("/home/u/.aws/config"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("line 1"), std::string::npos) << s.error().message;
}

TEST_F(ResolveTest, OtherSectionsAreNotProfiles) {
  env_["AWS_REGION"] = "r";
  Config("[sso-session corp]\nsso_region = us-east-1\n[services dev]\nregion = x\n");
  ResolveOptions options = Options();
  options.profile = "corp";
  Result<AwsSettings> s = Resolve(options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "ProfileNotFound");
}

TEST(ConfigFileSectionNameTest, Names) {
  EXPECT_EQ(ConfigFileSectionName("default"), "default");
  EXPECT_EQ(ConfigFileSectionName("dev"), "profile dev");
}

// ---- Real files ----

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "porthole_aws_config_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made) path_ = made;
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(WriteFileAtomicTest, CreatesWithModeAndContent) {
  UmaskGuard umask(022);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string path = dir.path() + "/credentials";
  Status status = WriteFileAtomic(path, "[default]\naws_secret_access_key = s\n", 0600);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(Slurp(path), "[default]\naws_secret_access_key = s\n");
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(dir.Entries(), (std::vector<std::string>{"credentials"}));
}

TEST(WriteFileAtomicTest, ReplacesContentAndMode) {
  UmaskGuard umask(022);
  TempDir dir;
  std::string path = dir.path() + "/config";
  ASSERT_TRUE(WriteFileAtomic(path, std::string(10000, 'x'), 0644).ok());
  EXPECT_EQ(ModeOf(path), 0644u);
  ASSERT_TRUE(WriteFileAtomic(path, "short", 0600).ok());
  EXPECT_EQ(Slurp(path), "short");
  EXPECT_EQ(ModeOf(path), 0600u);
  ASSERT_TRUE(WriteFileAtomic(path, "", 0600).ok());
  EXPECT_EQ(Slurp(path), "");
  EXPECT_EQ(dir.Entries(), (std::vector<std::string>{"config"}));
}

TEST(WriteFileAtomicTest, UmaskNarrowsNeverWidens) {
  UmaskGuard umask(077);
  TempDir dir;
  std::string path = dir.path() + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "x", 0644).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
}

TEST(WriteFileAtomicTest, ReplacesASymlinkRatherThanItsTarget) {
  TempDir dir;
  std::string target = dir.path() + "/target";
  std::string link = dir.path() + "/link";
  ASSERT_TRUE(WriteFileAtomic(target, "old", 0600).ok());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(link, "new", 0600).ok());
  EXPECT_EQ(Slurp(target), "old");
  EXPECT_EQ(Slurp(link), "new");
  EXPECT_FALSE(std::filesystem::is_symlink(link));
}

TEST(WriteFileAtomicTest, FailsCleanly) {
  TempDir dir;
  Status missing_dir = WriteFileAtomic(dir.path() + "/no/such/dir/file", "x", 0600);
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.error().code, "IoError");
  EXPECT_NE(missing_dir.error().message.find("/no/such/dir/file"), std::string::npos);

  // Renaming over a directory fails; the temporary file must not remain.
  std::string sub = dir.path() + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  Status over_dir = WriteFileAtomic(sub, "x", 0600);
  ASSERT_FALSE(over_dir.ok());
  EXPECT_EQ(dir.Entries(), (std::vector<std::string>{"sub"}));
}

TEST(ReadSharedFileTest, ReadsRegularFilesOnly) {
  TempDir dir;
  std::string path = dir.path() + "/config";
  ASSERT_TRUE(WriteFileAtomic(path, "[default]\nregion = r\n", 0600).ok());
  EXPECT_EQ(ReadSharedFile(path), std::optional<std::string>("[default]\nregion = r\n"));
  EXPECT_EQ(ReadSharedFile(dir.path() + "/missing"), std::nullopt);
  EXPECT_EQ(ReadSharedFile(dir.path()), std::nullopt);
}

TEST(ReadSharedFileTest, OversizedFileIsNotRead) {
  TempDir dir;
  std::string path = dir.path() + "/big";
  ASSERT_TRUE(WriteFileAtomic(path, std::string(kMaxIniSize + 100000, '#'), 0600).ok());
  EXPECT_FALSE(ReadSharedFile(path).has_value());
  // Even if a reader hands over that much, the parser refuses it.
  EXPECT_FALSE(ParseIni(std::string(kMaxIniSize + 100000, '#')).ok());
}

TEST(ResolveWithRealFilesTest, DefaultReaderAndEnvInjection) {
  TempDir dir;
  ASSERT_TRUE(
      WriteFileAtomic(dir.path() + "/creds", "[default]\naws_access_key_id = A\naws_secret_access_key = S\n", 0600)
          .ok());
  std::map<std::string, std::string> env{{"AWS_SHARED_CREDENTIALS_FILE", dir.path() + "/creds"},
                                         {"AWS_CONFIG_FILE", dir.path() + "/missing-config"},
                                         {"AWS_REGION", "us-east-1"}};
  ResolveOptions options;
  options.env = [&env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  Result<AwsSettings> s = ResolveAwsSettings(options);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->access_key_id, "A");
  EXPECT_EQ(s->secret_access_key, "S");
  EXPECT_EQ(s->region, "us-east-1");
}

TEST(LookupProcessEnvTest, ReadsTheEnvironment) {
  ASSERT_EQ(::setenv("PORTHOLE_AWS_CONFIG_TEST_VAR", "value", 1), 0);
  EXPECT_EQ(LookupProcessEnv("PORTHOLE_AWS_CONFIG_TEST_VAR"), std::optional<std::string>("value"));
  ::unsetenv("PORTHOLE_AWS_CONFIG_TEST_VAR");
  EXPECT_EQ(LookupProcessEnv("PORTHOLE_AWS_CONFIG_TEST_VAR"), std::nullopt);
}

}  // namespace
}  // namespace porthole
