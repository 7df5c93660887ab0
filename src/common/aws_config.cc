#include "common/aws_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/files.h"
#include "common/ids.h"
#include "common/word_split.h"

namespace porthole {
namespace {

// Error texts of the AWS CLI (botocore's NoCredentialsError, NoRegionError,
// ProfileNotFound and PartialCredentialsError), shown to users verbatim.
constexpr char kNoCredentialsMessage[] =
    "Unable to locate credentials. You can configure credentials by running \"aws configure\".";
constexpr char kNoRegionMessage[] =
    "You must specify a region. You can also configure your region by running \"aws configure\".";

using IniSection = std::map<std::string, std::string>;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (IsBlank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Error ParseError(size_t line_number, std::string_view what) {
  return MakeError("ConfigParseError", "line " + std::to_string(line_number) + ": " + std::string(what));
}

// ---- Resolution helpers ----

// The environment variable `name`, nullopt when unset or empty.
std::optional<std::string> NonEmptyEnv(const EnvLookup& env, std::string_view name) {
  std::optional<std::string> value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

// `path` with a leading "~" or "~/" replaced by HOME ("" when HOME is unset).
std::string ExpandHome(const EnvLookup& env, const std::string& path) {
  if (path != "~" && !path.starts_with("~/")) return path;
  std::optional<std::string> home = NonEmptyEnv(env, "HOME");
  if (!home) return "";
  return *home + path.substr(1);
}

std::string SharedFilePath(const EnvLookup& env, std::string_view variable, std::string_view default_name) {
  std::optional<std::string> path = NonEmptyEnv(env, variable);
  return ExpandHome(env, path ? *path : "~/.aws/" + std::string(default_name));
}

Result<IniFile> LoadSharedFile(const ResolveOptions& options, const std::string& path) {
  if (path.empty()) return IniFile{};
  std::optional<std::string> text = options.read_file(path);
  if (!text) return IniFile{};
  Result<IniFile> ini = ParseIni(*text);
  if (!ini.ok())
    return MakeError("ConfigParseError", "Unable to parse config file: " + path + ": " + ini.error().message);
  return ini;
}

// The profile a config-file section belongs to, as botocore's
// build_profile_map reads it: "default", or "profile <name>" where the name
// may be quoted ("[profile 'my profile']"). Other sections belong to none.
std::optional<std::string> ProfileOfConfigSection(const std::string& section) {
  if (section == "default") return section;
  if (!section.starts_with("profile")) return std::nullopt;
  Result<std::vector<std::string>> words = SplitCommandLine(section);
  if (!words.ok() || words->size() != 2 || (*words)[0] != "profile") return std::nullopt;
  return (*words)[1];
}

// The section of `profile` in a parsed config file, or nullptr. Sections are
// visited in name order and a later match wins, so "[profile default]"
// overrides "[default]" (botocore: whichever comes later in the file).
const IniSection* FindConfigProfile(const IniFile& config, const std::string& profile) {
  const IniSection* found = nullptr;
  for (const auto& [name, section] : config) {
    std::optional<std::string> owner = ProfileOfConfigSection(name);
    if (owner && *owner == profile) found = &section;
  }
  return found;
}

std::optional<std::string> NonEmptyKey(const IniSection* section, const std::string& key) {
  if (!section) return std::nullopt;
  auto it = section->find(key);
  if (it == section->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Credentials from one file section, if it has aws_access_key_id.
Result<std::optional<AwsSettings>> CredentialsFromSection(const IniSection* section, std::string_view source) {
  std::optional<std::string> access_key = NonEmptyKey(section, "aws_access_key_id");
  if (!access_key) return std::optional<AwsSettings>();
  std::optional<std::string> secret_key = NonEmptyKey(section, "aws_secret_access_key");
  if (!secret_key)
    return MakeError("PartialCredentials",
                     "Partial credentials found in " + std::string(source) + ", missing: aws_secret_access_key");
  AwsSettings creds;
  creds.access_key_id = *access_key;
  creds.secret_access_key = *secret_key;
  std::optional<std::string> token = NonEmptyKey(section, "aws_session_token");
  if (!token) token = NonEmptyKey(section, "aws_security_token");
  creds.session_token = token.value_or("");
  return std::optional<AwsSettings>(std::move(creds));
}


}  // namespace

// ---- INI ----

Result<IniFile> ParseIni(std::string_view text) {
  if (text.size() > kMaxIniSize)
    return MakeError("ConfigParseError", "file larger than " + std::to_string(kMaxIniSize) + " bytes");
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);

  IniFile ini;
  IniSection* section = nullptr;
  std::string* value = nullptr;  // the last key's value, for continuation lines
  size_t value_indent = 0;       // indentation of that key's line
  size_t line_number = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_number;

    size_t indent = 0;
    while (indent < line.size() && IsBlank(line[indent])) ++indent;
    std::string_view content = Trim(line);
    if (content.empty() || content[0] == '#' || content[0] == ';') continue;

    if (value && indent > value_indent) {
      *value += '\n';
      *value += content;
      continue;
    }
    value = nullptr;

    if (content[0] == '[') {
      size_t close = content.rfind(']');
      if (close == std::string_view::npos) return ParseError(line_number, "section header without ']'");
      std::string name(Trim(content.substr(1, close - 1)));
      if (name.empty()) return ParseError(line_number, "empty section name");
      auto [it, inserted] = ini.try_emplace(name);
      if (!inserted) return ParseError(line_number, "duplicate section [" + name + "]");
      section = &it->second;
      continue;
    }

    size_t delimiter = content.find_first_of("=:");
    if (delimiter == std::string_view::npos)
      return ParseError(line_number, "expected [section], key = value, or a comment");
    if (!section) return ParseError(line_number, "key outside any [section]");
    std::string key = Lower(Trim(content.substr(0, delimiter)));
    if (key.empty()) return ParseError(line_number, "empty key");
    auto [it, inserted] = section->try_emplace(key, Trim(content.substr(delimiter + 1)));
    if (!inserted) return ParseError(line_number, "duplicate key '" + key + "'");
    value = &it->second;
    value_indent = indent;
  }
  return ini;
}

std::string FormatIni(const IniFile& ini) {
  std::string out;
  for (const auto& [name, section] : ini) {
    if (!out.empty()) out += '\n';
    out += "[" + name + "]\n";
    for (const auto& [key, value] : section) {
      out += key + " =";
      std::string_view rest = value;
      size_t eol = rest.find('\n');
      std::string_view first = rest.substr(0, eol);
      if (!first.empty()) out += " " + std::string(first);
      out += '\n';
      while (eol != std::string_view::npos) {
        rest.remove_prefix(eol + 1);
        eol = rest.find('\n');
        out += "    " + std::string(rest.substr(0, eol)) + "\n";
      }
    }
  }
  return out;
}

// ---- Resolution ----

std::optional<std::string> LookupProcessEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> ReadSharedFile(const std::string& path) { return ReadFile(path, kMaxIniSize + 1); }

std::string SharedCredentialsFilePath(const EnvLookup& env) {
  return SharedFilePath(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
}

std::string SharedConfigFilePath(const EnvLookup& env) { return SharedFilePath(env, "AWS_CONFIG_FILE", "config"); }

std::string ConfigFileSectionName(std::string_view profile) {
  if (profile == "default") return "default";
  return "profile " + std::string(profile);
}

Result<AwsSettings> ResolveAwsSettings(const ResolveOptions& options) {
  const EnvLookup& env = options.env;
  AwsSettings settings;

  const bool explicit_profile = options.profile && !options.profile->empty();
  if (explicit_profile) {
    settings.profile = *options.profile;
  } else {
    std::optional<std::string> profile = NonEmptyEnv(env, "AWS_PROFILE");
    if (!profile) profile = NonEmptyEnv(env, "AWS_DEFAULT_PROFILE");
    settings.profile = profile.value_or("default");
  }

  Result<IniFile> credentials_file = LoadSharedFile(options, SharedCredentialsFilePath(env));
  if (!credentials_file.ok()) return credentials_file.error();
  Result<IniFile> config_file = LoadSharedFile(options, SharedConfigFilePath(env));
  if (!config_file.ok()) return config_file.error();

  const IniSection* credentials_section = nullptr;
  if (auto it = credentials_file->find(settings.profile); it != credentials_file->end())
    credentials_section = &it->second;
  const IniSection* config_section = FindConfigProfile(*config_file, settings.profile);
  if (settings.profile != "default" && !credentials_section && !config_section)
    return MakeError("ProfileNotFound", "The config profile (" + settings.profile + ") could not be found");

  // The profile's non-credential settings: config file overlaid by the
  // credentials file (botocore's Session.full_config).
  IniSection profile;
  if (config_section) profile = *config_section;
  if (credentials_section)
    for (const auto& [key, value] : *credentials_section) profile[key] = value;

  // Credentials.
  std::optional<AwsSettings> creds;
  if (!explicit_profile && NonEmptyEnv(env, "AWS_ACCESS_KEY_ID")) {
    std::optional<std::string> secret = NonEmptyEnv(env, "AWS_SECRET_ACCESS_KEY");
    if (!secret)
      return MakeError("PartialCredentials", "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY");
    creds.emplace();
    creds->access_key_id = *NonEmptyEnv(env, "AWS_ACCESS_KEY_ID");
    creds->secret_access_key = *secret;
    std::optional<std::string> token = NonEmptyEnv(env, "AWS_SESSION_TOKEN");
    if (!token) token = NonEmptyEnv(env, "AWS_SECURITY_TOKEN");
    creds->session_token = token.value_or("");
  }
  if (!creds) {
    Result<std::optional<AwsSettings>> from_file =
        CredentialsFromSection(credentials_section, "shared-credentials-file");
    if (!from_file.ok()) return from_file.error();
    creds = std::move(*from_file);
  }
  if (!creds) {
    Result<std::optional<AwsSettings>> from_file = CredentialsFromSection(config_section, "config-file");
    if (!from_file.ok()) return from_file.error();
    creds = std::move(*from_file);
  }

  // Region, endpoint, CA bundle.
  if (options.region && !options.region->empty()) {
    settings.region = *options.region;
  } else {
    std::optional<std::string> region = NonEmptyEnv(env, "AWS_REGION");
    if (!region) region = NonEmptyEnv(env, "AWS_DEFAULT_REGION");
    if (!region) region = NonEmptyKey(&profile, "region");
    settings.region = region.value_or("");
  }
  if (options.endpoint_url && !options.endpoint_url->empty()) {
    settings.endpoint_url = *options.endpoint_url;
  } else {
    std::optional<std::string> endpoint = NonEmptyEnv(env, "AWS_ENDPOINT_URL");
    if (!endpoint) endpoint = NonEmptyKey(&profile, "endpoint_url");
    settings.endpoint_url = endpoint.value_or("");
  }
  std::optional<std::string> ca_bundle = NonEmptyEnv(env, "AWS_CA_BUNDLE");
  if (!ca_bundle) ca_bundle = NonEmptyKey(&profile, "ca_bundle");
  settings.ca_bundle = ca_bundle.value_or("");

  if (settings.region.empty() && options.require_region) return MakeError("NoRegion", kNoRegionMessage);
  if (creds) {
    settings.access_key_id = std::move(creds->access_key_id);
    settings.secret_access_key = std::move(creds->secret_access_key);
    settings.session_token = std::move(creds->session_token);
  } else if (options.require_credentials) {
    return MakeError("NoCredentials", kNoCredentialsMessage);
  }
  return settings;
}

// ---- Files ----


}  // namespace porthole
