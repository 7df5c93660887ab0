#include "cli/ecs_commands.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/session_client.h"
#include "common/aws_config.h"
#include "common/files.h"
#include "net/aws_json_client.h"

namespace porthole::cli {
using Json = nlohmann::json;

namespace {

constexpr const char* kEcsTargetPrefix = "AmazonEC2ContainerServiceV20141113.";

enum class Kind { kString, kInt, kFlag, kJson, kStringList, kTags };

struct Param {
  const char* flag;    // without the leading "--"
  const char* member;  // request member
  Kind kind;
  bool required = false;
};

struct Operation {
  const char* command;
  const char* name;
  std::vector<Param> params;
};

const std::vector<Operation>& Operations() {
  static const std::vector<Operation> ops = {
      {"create-cluster", "CreateCluster",
       {{"cluster-name", "clusterName", Kind::kString}, {"tags", "tags", Kind::kTags},
        {"settings", "settings", Kind::kJson}, {"configuration", "configuration", Kind::kJson}}},
      {"describe-clusters", "DescribeClusters",
       {{"clusters", "clusters", Kind::kStringList}, {"include", "include", Kind::kStringList}}},
      {"list-clusters", "ListClusters", {}},
      {"delete-cluster", "DeleteCluster", {{"cluster", "cluster", Kind::kString, true}}},
      {"register-task-definition", "RegisterTaskDefinition",
       {{"family", "family", Kind::kString}, {"container-definitions", "containerDefinitions", Kind::kJson},
        {"task-role-arn", "taskRoleArn", Kind::kString}, {"execution-role-arn", "executionRoleArn", Kind::kString},
        {"network-mode", "networkMode", Kind::kString}, {"cpu", "cpu", Kind::kString},
        {"memory", "memory", Kind::kString}, {"requires-compatibilities", "requiresCompatibilities", Kind::kStringList},
        {"tags", "tags", Kind::kTags}}},
      {"describe-task-definition", "DescribeTaskDefinition",
       {{"task-definition", "taskDefinition", Kind::kString, true}, {"include", "include", Kind::kStringList}}},
      {"list-task-definitions", "ListTaskDefinitions",
       {{"family-prefix", "familyPrefix", Kind::kString}, {"status", "status", Kind::kString},
        {"sort", "sort", Kind::kString}}},
      {"deregister-task-definition", "DeregisterTaskDefinition",
       {{"task-definition", "taskDefinition", Kind::kString, true}}},
      {"run-task", "RunTask",
       {{"cluster", "cluster", Kind::kString}, {"task-definition", "taskDefinition", Kind::kString, true},
        {"count", "count", Kind::kInt}, {"enable-execute-command", "enableExecuteCommand", Kind::kFlag},
        {"launch-type", "launchType", Kind::kString}, {"overrides", "overrides", Kind::kJson},
        {"started-by", "startedBy", Kind::kString}, {"group", "group", Kind::kString},
        {"network-configuration", "networkConfiguration", Kind::kJson}, {"tags", "tags", Kind::kTags}}},
      {"start-task", "StartTask",
       {{"cluster", "cluster", Kind::kString}, {"task-definition", "taskDefinition", Kind::kString, true},
        {"container-instances", "containerInstances", Kind::kStringList, true},
        {"enable-execute-command", "enableExecuteCommand", Kind::kFlag}, {"overrides", "overrides", Kind::kJson},
        {"started-by", "startedBy", Kind::kString}, {"group", "group", Kind::kString}, {"tags", "tags", Kind::kTags}}},
      {"create-service", "CreateService",
       {{"cluster", "cluster", Kind::kString}, {"service-name", "serviceName", Kind::kString, true},
        {"task-definition", "taskDefinition", Kind::kString, true}, {"desired-count", "desiredCount", Kind::kInt},
        {"launch-type", "launchType", Kind::kString},
        {"enable-execute-command", "enableExecuteCommand", Kind::kFlag}, {"tags", "tags", Kind::kTags}}},
      {"update-service", "UpdateService",
       {{"cluster", "cluster", Kind::kString}, {"service", "service", Kind::kString, true},
        {"task-definition", "taskDefinition", Kind::kString}, {"desired-count", "desiredCount", Kind::kInt},
        {"enable-execute-command", "enableExecuteCommand", Kind::kFlag},
        {"force-new-deployment", "forceNewDeployment", Kind::kFlag}}},
      {"describe-services", "DescribeServices",
       {{"cluster", "cluster", Kind::kString}, {"services", "services", Kind::kStringList, true}}},
      {"list-services", "ListServices", {{"cluster", "cluster", Kind::kString}}},
      {"delete-service", "DeleteService",
       {{"cluster", "cluster", Kind::kString}, {"service", "service", Kind::kString, true},
        {"force", "force", Kind::kFlag}}},
      {"describe-tasks", "DescribeTasks",
       {{"cluster", "cluster", Kind::kString}, {"tasks", "tasks", Kind::kStringList, true},
        {"include", "include", Kind::kStringList}}},
      {"list-tasks", "ListTasks",
       {{"cluster", "cluster", Kind::kString}, {"family", "family", Kind::kString},
        {"desired-status", "desiredStatus", Kind::kString}, {"started-by", "startedBy", Kind::kString}}},
      {"stop-task", "StopTask",
       {{"cluster", "cluster", Kind::kString}, {"task", "task", Kind::kString, true},
        {"reason", "reason", Kind::kString}}},
      {"tag-resource", "TagResource",
       {{"resource-arn", "resourceArn", Kind::kString, true}, {"tags", "tags", Kind::kTags, true}}},
      {"untag-resource", "UntagResource",
       {{"resource-arn", "resourceArn", Kind::kString, true}, {"tag-keys", "tagKeys", Kind::kStringList, true}}},
      {"list-tags-for-resource", "ListTagsForResource", {{"resource-arn", "resourceArn", Kind::kString, true}}},
      {"execute-command", "ExecuteCommand",
       {{"cluster", "cluster", Kind::kString}, {"task", "task", Kind::kString, true},
        {"container", "container", Kind::kString}, {"command", "command", Kind::kString, true},
        {"interactive", "interactive", Kind::kFlag},
        // Porthole's own: caps on this session, below the cluster's porthole:session* settings.
        {"session-memory", "portholeSessionMemory", Kind::kInt}, {"session-cpu", "portholeSessionCpu", Kind::kInt}}},
  };
  return ops;
}

// A JSON argument: inline JSON or file://path, as the AWS CLI accepts.
Result<Json> ParseJsonArgument(const std::string& flag, const std::string& text) {
  std::string content = text;
  if (text.rfind("file://", 0) == 0) {
    std::ifstream in(text.substr(7));
    if (!in) return MakeError("ParamValidation", "cannot read " + text.substr(7) + " for --" + flag);
    std::stringstream ss;
    ss << in.rdbuf();
    content = ss.str();
  }
  Json j = Json::parse(content, nullptr, false);
  if (j.is_discarded()) return MakeError("ParamValidation", "--" + flag + " is not valid JSON");
  return j;
}

// Tags: JSON, or the shorthand "key=k,value=v" (one per value).
Result<Json> ParseTagsArgument(const std::vector<std::string>& values) {
  if (values.size() == 1 && !values[0].empty() && (values[0][0] == '[' || values[0].rfind("file://", 0) == 0))
    return ParseJsonArgument("tags", values[0]);
  Json tags = Json::array();
  for (const auto& v : values) {
    Json tag = Json::object();
    std::stringstream ss(v);
    std::string part;
    while (std::getline(ss, part, ',')) {
      size_t eq = part.find('=');
      if (eq == std::string::npos) return MakeError("ParamValidation", "tags must look like key=k,value=v");
      tag[part.substr(0, eq)] = part.substr(eq + 1);
    }
    if (!tag.contains("key")) return MakeError("ParamValidation", "each tag needs a key");
    tags.push_back(tag);
  }
  return tags;
}

struct GlobalOptions {
  std::string endpoint_url;
  std::string region;
  std::string profile;
  std::string ca_bundle;
  bool debug = false;
};

Result<std::unique_ptr<net::AwsJsonClient>> MakeClient(const GlobalOptions& g, std::shared_ptr<net::TlsContext>* tls_out) {
  ResolveOptions resolve;
  if (!g.profile.empty()) resolve.profile = g.profile;
  if (!g.region.empty()) resolve.region = g.region;
  if (!g.endpoint_url.empty()) resolve.endpoint_url = g.endpoint_url;
  auto settings = ResolveAwsSettings(resolve);
  if (!settings) return settings.error();
  if (settings->endpoint_url.empty())
    return MakeError("ParamValidation",
                     "No endpoint: pass --endpoint-url or set AWS_ENDPOINT_URL (see `porthole env`).");
  auto url = net::ParseUrl(settings->endpoint_url);
  if (!url) return url.error();
  std::string ca_path = g.ca_bundle.empty() ? settings->ca_bundle : g.ca_bundle;
  auto ca = net::ReadCaBundle(ca_path);
  if (!ca) return ca.error();
  auto tls = net::TlsContext::ForClient(*ca);
  if (!tls) return tls.error();
  *tls_out = *tls;
  return std::make_unique<net::AwsJsonClient>(
      *url, auth::Credentials{settings->access_key_id, settings->secret_access_key, settings->session_token},
      settings->region, "ecs", *tls);
}

// One call of an operation outside ECS's (Porthole's own), with the same client set-up.
Result<Json> CallOperation(const GlobalOptions& g, const std::string& target, const Json& input) {
  std::shared_ptr<net::TlsContext> tls;
  auto client = MakeClient(g, &tls);
  if (!client) return client.error();
  return (*client)->Call(target, input);
}

int PrintError(const Error& e, const std::string& operation) {
  if (e.http_status == 0 || e.code == "ParamValidation" || e.code == "NoCredentials" || e.code == "NoRegion" ||
      e.code == "ConfigError" || e.code == "ProfileNotFound") {
    std::cerr << "\n" << e.message << "\n";
    return 255;
  }
  std::cerr << "\nAn error occurred (" << e.code << ") when calling the " << operation << " operation: " << e.message
            << "\n";
  return 254;
}

}  // namespace

void AddEcsCommands(CLI::App& app, int& exit_code) {
  auto* ecs = app.add_subcommand("ecs", "Amazon ECS operations (the subset Porthole serves)");
  ecs->require_subcommand(1);
  ecs->fallthrough();
  auto globals = std::make_shared<GlobalOptions>();
  for (auto* target : {&app}) {
    target->add_option("--endpoint-url", globals->endpoint_url, "portholed URL");
    target->add_option("--region", globals->region, "region");
    target->add_option("--profile", globals->profile, "profile from the shared files");
    target->add_option("--ca-bundle", globals->ca_bundle, "CA bundle to verify the endpoint with");
  }

  for (const auto& op : Operations()) {
    auto* sub = ecs->add_subcommand(op.command, std::string("calls ") + op.name);
    sub->fallthrough();  // --endpoint-url etc. may come after the operation, as with the AWS CLI
    auto values = std::make_shared<std::map<std::string, std::vector<std::string>>>();
    // Single values are plain strings: CLI11 would split a JSON "[...]" given to a list option.
    auto singles = std::make_shared<std::map<std::string, std::string>>();
    auto flags = std::make_shared<std::map<std::string, int>>();
    auto cli_input = std::make_shared<std::string>();
    sub->add_option("--cli-input-json", *cli_input, "request members as JSON (or file://path)");
    for (const auto& p : op.params) {
      std::string flag = std::string("--") + p.flag;
      if (p.kind == Kind::kFlag) {
        sub->add_flag_callback(flag, [flags, p] { (*flags)[p.flag] = 1; });
        sub->add_flag_callback(std::string("--no-") + p.flag, [flags, p] { (*flags)[p.flag] = 0; });
      } else if (p.kind == Kind::kStringList || p.kind == Kind::kTags) {
        sub->add_option(flag, (*values)[p.flag])->expected(1, -1);
      } else {
        sub->add_option(flag, (*singles)[p.flag]);
      }
    }
    const Operation* operation = &op;
    sub->callback([=, &exit_code] {
      Json input = Json::object();
      if (!cli_input->empty()) {
        auto base = ParseJsonArgument("cli-input-json", *cli_input);
        if (!base || !base->is_object()) {
          exit_code = PrintError(base ? MakeError("ParamValidation", "--cli-input-json must be an object") : base.error(),
                                 operation->name);
          return;
        }
        input = *base;
      }
      for (const auto& p : operation->params) {
        auto v = (*values)[p.flag];
        if (p.kind != Kind::kStringList && p.kind != Kind::kTags && !(*singles)[p.flag].empty())
          v = {(*singles)[p.flag]};
        if (p.kind == Kind::kFlag) {
          if (flags->count(p.flag)) input[p.member] = (*flags)[p.flag] == 1;
          continue;
        }
        if (v.empty()) {
          if (p.required && !input.contains(p.member)) {
            exit_code = PrintError(MakeError("ParamValidation", std::string("the following arguments are required: --") + p.flag),
                                   operation->name);
            return;
          }
          continue;
        }
        Result<Json> value = Json(v[0]);
        switch (p.kind) {
          case Kind::kInt:
            try {
              value = Json(std::stoll(v[0]));
            } catch (...) {
              value = MakeError("ParamValidation", std::string("--") + p.flag + " must be an integer");
            }
            break;
          case Kind::kJson: value = ParseJsonArgument(p.flag, v[0]); break;
          case Kind::kStringList: value = Json(v); break;
          case Kind::kTags: value = ParseTagsArgument(v); break;
          default: break;
        }
        if (!value) {
          exit_code = PrintError(value.error(), operation->name);
          return;
        }
        input[p.member] = *value;
      }
      std::shared_ptr<net::TlsContext> tls;
      auto client = MakeClient(*globals, &tls);
      if (!client) {
        exit_code = PrintError(client.error(), operation->name);
        return;
      }
      auto output = (*client)->Call(std::string(kEcsTargetPrefix) + operation->name, input);
      if (!output) {
        exit_code = PrintError(output.error(), operation->name);
        return;
      }
      if (std::string(operation->name) != "ExecuteCommand") {
        std::cout << output->dump(4) << "\n";
        exit_code = 0;
        return;
      }
      const Json& session = (*output)["session"];
      SessionGrantView grant{session.value("sessionId", ""), session.value("streamUrl", ""),
                             session.value("tokenValue", "")};
      SessionClientOptions session_options;
      session_options.resume = ResumeThrough((*client)->ForService("ssm"), grant.session_id);
      exit_code = RunSession(grant, tls, session_options);
    });
  }

  // porthole admin describe-gateway: what the gateway holds for sessions.
  auto* admin = app.add_subcommand("admin", "Porthole's own operator operations");
  admin->require_subcommand(1);
  admin->fallthrough();
  auto* describe_gateway = admin->add_subcommand("describe-gateway", "sessions, agents and bytes queued in the gateway");
  describe_gateway->fallthrough();
  describe_gateway->callback([=, &exit_code] {
    auto output = CallOperation(*globals, "PortholeAdminService.DescribeGateway", Json::object());
    exit_code = output ? (std::cout << output->dump(4) << "\n", 0) : PrintError(output.error(), "DescribeGateway");
  });

  // porthole node-token create: a single-use token a new node joins with.
  auto* node_token = app.add_subcommand("node-token", "join tokens for porthole-node");
  node_token->require_subcommand(1);
  node_token->fallthrough();
  auto* create = node_token->add_subcommand("create", "create a single-use join token (printed as JSON)");
  create->fallthrough();
  auto expires = std::make_shared<int64_t>(3600);
  auto instance = std::make_shared<std::string>();
  auto token_file = std::make_shared<std::string>();
  create->add_option("--expires-in", *expires, "seconds the token stays valid (60 to 604800)")->capture_default_str();
  create->add_option("--instance-id", *instance, "re-register this existing container instance (and no other)");
  create->add_option("--token-file", *token_file, "also write the token alone to this file (mode 0600)");
  create->callback([=, &exit_code] {
    Json input = {{"expiresInSeconds", *expires}};
    if (!instance->empty()) input["instanceId"] = *instance;
    auto output = CallOperation(*globals, "PortholeNodeService.CreateJoinToken", input);
    if (!output) {
      exit_code = PrintError(output.error(), "CreateJoinToken");
      return;
    }
    if (!token_file->empty()) {
      if (Status s = WriteFileAtomic(*token_file, output->value("joinToken", "") + "\n", 0600); !s) {
        exit_code = PrintError(MakeError("ConfigError", "cannot write " + *token_file + ": " + s.error().message),
                               "CreateJoinToken");
        return;
      }
    }
    std::cout << output->dump(4) << "\n";
    exit_code = 0;
  });
}

}  // namespace porthole::cli
