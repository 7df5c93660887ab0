#pragma once
// The AWS CLI's shared files (~/.aws/credentials, ~/.aws/config) and the
// rules by which it picks a profile, credentials, region and endpoint, so
// that our CLI and daemons configure themselves as `aws` would.
#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/files.h"  // WriteFileAtomic, used with these files
#include "common/result.h"

namespace porthole {

// ---- INI files -------------------------------------------------------------

// section name → key → value.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;

// Largest file ParseIni accepts.
inline constexpr size_t kMaxIniSize = 1 << 20;

// Parses the INI dialect of the AWS shared files as botocore reads it
// (Python's configparser.RawConfigParser):
//  - "[name]" starts a section; the name is trimmed; text after the last ']'
//    is ignored, so "[default] # note" is section "default";
//  - "key = value" or "key: value" (the first '=' or ':' splits); keys are
//    trimmed and lowercased, values trimmed; a '#' or ';' inside a value is
//    part of the value;
//  - lines starting (after blanks) with '#' or ';' are comments; blank lines
//    and a leading UTF-8 BOM are ignored; "\r\n" line ends are accepted;
//  - a line indented deeper than the key line before it continues that
//    key's value: it is appended as "\n" + the trimmed line. This is how
//    nested settings ("s3 =" followed by indented "key = value" lines) are
//    kept without becoming keys of the section.
// Errors (code "ConfigParseError", naming the line number but never echoing
// the line, which may hold a secret): a key line before any section, a line
// that is neither section, key, comment nor blank, an empty key or section
// name, a duplicate section or a duplicate key in one section, input larger
// than kMaxIniSize.
Result<IniFile> ParseIni(std::string_view text);

// Writes sections in map order as "[name]" then "key = value" lines, with a
// blank line between sections. Multi-line values are written as ParseIni
// reads them (continuation lines indented by four spaces), so
// ParseIni(FormatIni(ini)) == ini for every `ini` ParseIni returned.
std::string FormatIni(const IniFile& ini);

// ---- Settings resolution ---------------------------------------------------

struct AwsSettings {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  std::string region;
  std::string profile;       // the profile that was selected, e.g. "default"
  std::string endpoint_url;  // empty: the service's default endpoint
  std::string ca_bundle;     // path of a PEM bundle; empty: system roots
};

// Returns the value of environment variable `name`, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Returns the content of the file at `path`, or nullopt when it does not
// exist or cannot be read (the AWS CLI then behaves as if it were empty).
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// getenv(3).
std::optional<std::string> LookupProcessEnv(std::string_view name);
// Reads a regular file, at most kMaxIniSize + 1 bytes of it (enough for
// ParseIni to reject an oversized file); nullopt if it is missing, not a
// regular file, or unreadable.
std::optional<std::string> ReadSharedFile(const std::string& path);

// Where the AWS CLI looks for its files: AWS_SHARED_CREDENTIALS_FILE and
// AWS_CONFIG_FILE (a leading "~/" expanded with HOME), else
// $HOME/.aws/credentials and $HOME/.aws/config. Empty when HOME is needed
// but unset.
std::string SharedCredentialsFilePath(const EnvLookup& env);
std::string SharedConfigFilePath(const EnvLookup& env);

// The config-file section of `profile`: "default" or "profile <name>".
// (The credentials file names sections by the bare profile name.)
std::string ConfigFileSectionName(std::string_view profile);

struct ResolveOptions {
  std::optional<std::string> profile;       // --profile
  std::optional<std::string> region;        // --region
  std::optional<std::string> endpoint_url;  // --endpoint-url
  EnvLookup env = LookupProcessEnv;
  FileReader read_file = ReadSharedFile;
  // When false, a missing value is left empty instead of being an error.
  bool require_credentials = true;
  bool require_region = true;
};

// Resolves settings as the AWS CLI v2 does. Environment variables, options
// and file keys that are set but empty count as unset (botocore would use
// the empty value).
//  - profile: options.profile, else AWS_PROFILE, else AWS_DEFAULT_PROFILE,
//    else "default". A profile other than "default" that is in neither file
//    is an error "ProfileNotFound" ("The config profile (x) could not be
//    found"), as in the CLI.
//  - credentials, first match wins:
//      1. unless options.profile was given: AWS_ACCESS_KEY_ID and
//         AWS_SECRET_ACCESS_KEY, with AWS_SESSION_TOKEN (or the older
//         AWS_SECURITY_TOKEN);
//      2. the credentials file, section [<profile>];
//      3. the config file, section [profile <profile>] (for the default
//         profile [default], or [profile default] if both exist);
//    each source needs an aws_access_key_id to count, and then also needs the
//    secret key: a source with only the access key is an error
//    "PartialCredentials" naming the missing variable or key.
//  - region: options.region, else AWS_REGION, else AWS_DEFAULT_REGION,
//    else the profile's `region`.
//  - endpoint_url: options.endpoint_url, else AWS_ENDPOINT_URL, else the
//    profile's `endpoint_url`.
//  - ca_bundle: AWS_CA_BUNDLE, else the profile's `ca_bundle`.
// "The profile's" setting is read from the profile's config-file section
// overlaid by its credentials-file section, as botocore merges the files.
// Files that are missing count as empty; a file ParseIni rejects is an error
// "ConfigParseError" naming the file. With nothing found: "NoRegion" (checked
// first) and "NoCredentials", with the AWS CLI's messages.
Result<AwsSettings> ResolveAwsSettings(const ResolveOptions& options);



}  // namespace porthole
