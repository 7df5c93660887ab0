// porthole-loadgen: makes one portholed hold many connected exec agents and
// active sessions, every party simulated here but speaking the real protocol
// with real credentials:
//   * simulated nodes join with join tokens (made with the given root key,
//     as `porthole node-token create` makes them), register, long-poll for
//     their tasks and report them PENDING then RUNNING as porthole-node does;
//   * RunTask starts enough tasks (of a task definition with several
//     containers) for --agents exec agents; each container's agent opens its
//     control channel with the credentials PollTasks gave for it;
//   * --sessions clients call ExecuteCommand and open the data channel; the
//     agent ends echo what is typed, the client ends time each key's echo.
// Event-driven: one thread for the agents, one for everything else
// (--threads 1: one for all). On stdout, one "phase <name> <json>" line as
// each stage is reached (the generator then waits --settle-ms, so a script
// can sample portholed), and at the end one JSON object with the results.
// bench/load.sh runs it against a portholed of its own.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/aws_config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "loadgen.h"
#include "sim_agent.h"
#include "sim_client.h"

namespace porthole::loadgen {
namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxRunTaskCount = 10;  // RunTask's `count` limit

struct Options {
  std::string endpoint;
  std::string ca_file;
  std::string credentials_file;
  std::string config_file;
  std::string profile = "default";
  std::string region;
  std::string cluster = "loadgen";
  std::string task_definition = "loadgen";
  int64_t agents = 100;
  int64_t sessions = 10;
  int64_t duration_s = 10;
  int64_t key_interval_ms = 100;
  int64_t nodes = 0;  // 0: one per 100 tasks
  int64_t poll_wait_s = 20;
  bool polls_while_measuring = true;
  int threads = 2;
  int64_t settle_ms = 2000;
  size_t connect_concurrency = 20;
  int64_t stage_timeout_s = 600;
  uint32_t seed = 1;
};

void Phase(const std::string& name, const Json& detail) {
  std::printf("phase %s %s\n", name.c_str(), detail.dump().c_str());
  std::fflush(stdout);
}

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kUseTuple);
}

// Polls `done` every 100 ms; false when `timeout` passed first.
asio::awaitable<bool> WaitUntil(std::function<bool()> done, std::chrono::seconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (!done()) {
    if (SteadyClock::now() > deadline) co_return false;
    co_await Sleep(std::chrono::milliseconds(100));
  }
  co_return true;
}

// The runc id porthole-node gives a container (node_agent.cc RuntimeId).
std::string RuntimeId(const std::string& task_id, const std::string& container_name) {
  return task_id + "-" + crypto::HexEncode(crypto::Sha256(container_name)).substr(0, 10);
}

auth::Credentials CredentialsFrom(const Json& c) {
  if (!c.is_object()) return {};
  return {c.value("accessKeyId", ""), c.value("secretAccessKey", ""), c.value("sessionToken", "")};
}

struct TaskRun {
  std::string arn;
  std::vector<AgentIdentity> agents;  // one per container
};

// A simulated porthole-node: joins, long-polls, reports each new task
// PENDING and then RUNNING with its containers' runtime ids, and hands the
// agent credentials PollTasks issued for them to `on_running`.
class SimNode {
 public:
  SimNode(Party& party, int index, int64_t poll_wait_s, std::function<void(TaskRun)> on_running)
      : party_(party), index_(index), poll_wait_s_(poll_wait_s), on_running_(std::move(on_running)) {}

  asio::awaitable<Status> Join(const net::AwsJsonClient& root) {
    Result<Json> token = MakeError("ConnectionError", "not attempted");
    {
      auto permit = co_await party_.limiter.Acquire();
      Json request = {{"expiresInSeconds", 600}};  // named: GCC 12 miscompiles braced lists in co_await
      token = co_await CallApi(party_, root, std::string(kNodeTarget) + "CreateJoinToken", request);
    }
    if (!token) co_return token.error();
    // Unsigned: the single-use token is the proof.
    client_ = std::make_unique<net::AwsJsonClient>(root.endpoint(), auth::Credentials{}, party_.region, "ecs",
                                                   party_.tls);
    Json in = {{"hostname", "loadgen-node-" + std::to_string(index_)},
               {"runtimeVersion", "runc"},
               {"joinToken", token->value("joinToken", "")}};
    Result<Json> out = MakeError("ConnectionError", "not attempted");
    {
      auto permit = co_await party_.limiter.Acquire();
      out = co_await CallApi(party_, *client_, std::string(kNodeTarget) + "RegisterContainerInstance", in);
    }
    if (!out) co_return out.error();
    instance_id_ = out->value("instanceId", "");
    client_->set_credentials(CredentialsFrom(out->value("credentials", Json())));
    co_return OkStatus();
  }

  asio::awaitable<void> PollLoop() {
    std::string generation;
    while (!stopping_) {
      if (paused_) {
        co_await Sleep(std::chrono::milliseconds(100));
        continue;
      }
      // Not through the limiter: a long poll would hold a permit for its wait.
      Json in = {{"instanceId", instance_id_}, {"waitSeconds", poll_wait_s_}, {"generation", generation}};
      auto out = co_await CallApi(party_, *client_, std::string(kNodeTarget) + "PollTasks", in,
                                  std::chrono::seconds(poll_wait_s_ + 60));
      if (stopping_) break;
      if (!out) {
        party_.stats.Error("node_poll", out.error().code + ": " + out.error().message);
        co_await Sleep(std::chrono::seconds(1));
        continue;
      }
      polls_++;
      generation = out->value("generation", "");
      if (out->contains("instanceCredentials"))
        client_->set_credentials(CredentialsFrom((*out)["instanceCredentials"]));
      for (const auto& t : out->value("tasks", Json::array())) {
        std::string arn = t.value("taskArn", "");
        if (t.value("desiredStatus", "") != "RUNNING" || !seen_.insert(arn).second) continue;
        asio::co_spawn(party_.executor, StartTask(t), asio::detached);
      }
    }
  }

  void Stop() { stopping_ = true; }
  // No new polls until Resume() (the one in flight completes).
  void Pause() { paused_ = true; }
  void Resume() { paused_ = false; }
  int64_t polls() const { return polls_; }

 private:
  // What porthole-node's TaskRunner reports, without runc.
  asio::awaitable<void> StartTask(Json t) {
    TaskRun run;
    run.arn = t.value("taskArn", "");
    std::string task_id = t.value("taskId", "");
    Json pending = Json::array(), running = Json::array();
    const Json credentials = t.value("agent", Json::object()).value("credentials", Json::object());
    for (const auto& c : t.value("containers", Json::array())) {
      std::string name = c.value("name", "");
      pending.push_back({{"name", name}, {"runtimeId", RuntimeId(task_id, name)}, {"status", "PENDING"}});
      running.push_back({{"name", name}, {"runtimeId", RuntimeId(task_id, name)}, {"status", "RUNNING"}});
      run.agents.push_back({task_id, run.arn, name, CredentialsFrom(credentials.value(name, Json()))});
    }
    if (!co_await Report(run.arn, "PENDING", pending) || !co_await Report(run.arn, "RUNNING", running)) co_return;
    for (const auto& a : run.agents)
      if (a.credentials.access_key_id.empty()) {
        party_.stats.Error("node_credentials", "PollTasks gave no agent credentials for " + a.task_id + "/" + a.container);
        co_return;
      }
    on_running_(std::move(run));
  }

  // State reports must arrive: retried while the connection fails, as the node does.
  asio::awaitable<bool> Report(const std::string& arn, const std::string& status, const Json& containers) {
    Json in = {{"taskArn", arn}, {"status", status}, {"containers", containers}};
    for (int attempt = 0; attempt < 30; attempt++) {
      Result<Json> out = MakeError("ConnectionError", "not attempted");
      {
        auto permit = co_await party_.limiter.Acquire();
        out = co_await CallApi(party_, *client_, std::string(kNodeTarget) + "SubmitTaskStateChange", in);
      }
      if (out) co_return true;
      party_.stats.Error("node_report", out.error().code + ": " + out.error().message);
      if (out.error().code != "ConnectionError") co_return false;
      co_await Sleep(std::chrono::seconds(1));
    }
    co_return false;
  }

  Party& party_;
  int index_;
  int64_t poll_wait_s_;
  std::function<void(TaskRun)> on_running_;
  std::unique_ptr<net::AwsJsonClient> client_;
  std::string instance_id_;
  std::set<std::string> seen_;
  bool stopping_ = false;
  bool paused_ = false;
  int64_t polls_ = 0;
};

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::nan("");
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())))];
}

class LoadRun {
 public:
  LoadRun(const Options& options, asio::io_context& control_ioc, asio::io_context& agents_ioc, net::Url endpoint,
      auth::Credentials root, std::shared_ptr<net::TlsContext> control_tls, std::shared_ptr<net::TlsContext> agents_tls)
      : options_(options), agents_ioc_(agents_ioc),
        control_(control_ioc.get_executor(), endpoint, options.region, control_tls, options.connect_concurrency, stats_),
        agents_(agents_ioc.get_executor(), endpoint, options.region, agents_tls, options.connect_concurrency, stats_),
        root_(endpoint, root, options.region, "ecs", control_tls) {}

  // The whole run; returns the process exit status.
  asio::awaitable<int> Main() {
    control_.ticker.Start();
    asio::post(agents_ioc_, [this] { agents_.ticker.Start(); });
    int status = co_await Stages();
    co_await Teardown();
    PrintResult();
    co_return status;
  }

 private:
  asio::awaitable<int> Stages() {
    auto settle = std::chrono::milliseconds(options_.settle_ms);
    auto stage_timeout = std::chrono::seconds(options_.stage_timeout_s);

    // The task definition decides how many agents one task brings.
    Json describe = {{"taskDefinition", options_.task_definition}};
    auto definition = co_await CallApi(control_, root_, std::string(kEcsTarget) + "DescribeTaskDefinition", describe);
    if (!definition) {
      stats_.Error("setup", "DescribeTaskDefinition: " + definition.error().message);
      co_return 1;
    }
    containers_per_task_ = static_cast<int64_t>(
        definition->value("taskDefinition", Json::object()).value("containerDefinitions", Json::array()).size());
    if (containers_per_task_ < 1) {
      stats_.Error("setup", "the task definition has no containers");
      co_return 1;
    }
    tasks_needed_ = (options_.agents + containers_per_task_ - 1) / containers_per_task_;
    int64_t node_count = options_.nodes > 0 ? options_.nodes : std::max<int64_t>(1, (tasks_needed_ + 99) / 100);

    // Nodes join and poll.
    auto t0 = SteadyClock::now();
    for (int64_t i = 0; i < node_count; i++) {
      auto node = std::make_unique<SimNode>(control_, static_cast<int>(i), options_.poll_wait_s,
                                            [this](TaskRun run) { running_.push_back(std::move(run)); });
      Status joined = co_await node->Join(root_);
      if (!joined) {
        stats_.Error("setup", "a node could not join: " + joined.error().message);
        co_return 1;
      }
      nodes_.push_back(std::move(node));
    }
    for (auto& node : nodes_) asio::co_spawn(control_.executor, node->PollLoop(), asio::detached);

    // Tasks, placed by portholed on the least loaded node.
    for (int64_t started = 0, failures = 0; started < tasks_needed_;) {
      int64_t count = std::min<int64_t>(kMaxRunTaskCount, tasks_needed_ - started);
      Json request = {{"cluster", options_.cluster},
                      {"taskDefinition", options_.task_definition},
                      {"count", count},
                      {"launchType", "EC2"},
                      {"enableExecuteCommand", true}};
      Result<Json> out = MakeError("ConnectionError", "not attempted");
      {
        auto permit = co_await control_.limiter.Acquire();
        out = co_await CallApi(control_, root_, std::string(kEcsTarget) + "RunTask", request);
      }
      if (!out) {
        stats_.Error("setup", "RunTask: " + out.error().code + ": " + out.error().message);
        if (out.error().code == "ConnectionError" && ++failures < 5) continue;
        co_return 1;
      }
      int64_t placed = static_cast<int64_t>(out->value("tasks", Json::array()).size());
      if (placed == 0) {
        stats_.Error("setup", "RunTask placed no task: " + out->value("failures", Json::array()).dump());
        co_return 1;
      }
      started += placed;
    }
    bool all_running = co_await WaitUntil([this] { return static_cast<int64_t>(running_.size()) >= tasks_needed_; },
                                          stage_timeout);
    tasks_seconds_ = SecondsSince(t0);
    Phase("tasks-running", {{"tasks", running_.size()},
                            {"nodes", node_count},
                            {"containersPerTask", containers_per_task_},
                            {"seconds", tasks_seconds_}});
    if (!all_running) {
      stats_.Error("setup", "only " + std::to_string(running_.size()) + " of " + std::to_string(tasks_needed_) +
                                " tasks were reported RUNNING in time");
      co_return 1;
    }
    co_await Sleep(settle);

    // One agent per container, each with its own control channel.
    for (const auto& run : running_)
      for (const auto& a : run.agents)
        if (static_cast<int64_t>(identities_.size()) < options_.agents) identities_.push_back(a);
    t0 = SteadyClock::now();
    asio::post(agents_ioc_, [this] {
      for (const auto& identity : identities_) {
        auto agent = std::make_shared<SimAgent>(agents_, identity);
        agent_objects_.push_back(agent);
        asio::co_spawn(agents_.executor, [agent]() { return agent->Run(); }, asio::detached);
      }
    });
    bool all_connected = co_await WaitUntil([this] { return stats_.agents_connected.load() >= options_.agents; },
                                            stage_timeout);
    agents_seconds_ = SecondsSince(t0);
    Phase("agents-connected", {{"agents", stats_.agents_connected.load()}, {"seconds", agents_seconds_}});
    if (!all_connected) stats_.Error("setup", "not every agent connected in time");
    co_await CheckManagedAgents();
    co_await Sleep(settle);

    // Sessions, spread evenly over the agents.
    t0 = SteadyClock::now();
    const int64_t n = static_cast<int64_t>(identities_.size());
    for (int64_t i = 0; i < options_.sessions && n > 0; i++) {
      const AgentIdentity& a = identities_[static_cast<size_t>(i * n / options_.sessions)];
      auto client = std::make_shared<SimClient>(control_, root_, ClientTarget{options_.cluster, a.task_arn, a.container},
                                                std::chrono::milliseconds(options_.key_interval_ms),
                                                options_.seed * 7919u + static_cast<uint32_t>(i), samples_);
      clients_.push_back(client);
      asio::co_spawn(control_.executor, [client]() { return client->Run(); }, asio::detached);
    }
    co_await WaitUntil([this] { return CountClients(SimClient::State::kStarting) == 0; }, stage_timeout);
    sessions_seconds_ = SecondsSince(t0);
    Phase("sessions-active", {{"sessions", CountClients(SimClient::State::kActive)},
                              {"failed", CountClients(SimClient::State::kFailed)},
                              {"seconds", sessions_seconds_}});

    // Without the nodes' polls (an A/B switch): wait for the last one to be answered.
    if (!options_.polls_while_measuring) {
      for (auto& node : nodes_) node->Pause();
      co_await Sleep(std::chrono::seconds(options_.poll_wait_s) + settle);
    }

    // The measured period.
    samples_.measuring = true;
    stats_.measuring = true;
    double cpu0 = CpuSeconds();
    auto m0 = SteadyClock::now();
    Phase("measure-start", {{"seconds", options_.duration_s}});
    co_await Sleep(std::chrono::seconds(options_.duration_s));
    samples_.measuring = false;
    stats_.measuring = false;
    measured_seconds_ = SecondsSince(m0);
    loadgen_cpu_pct_ = 100.0 * (CpuSeconds() - cpu0) / measured_seconds_;
    sessions_at_end_ = CountClients(SimClient::State::kActive);
    agents_at_end_ = stats_.agents_connected.load();
    Phase("measure-end", {{"sessions", sessions_at_end_}, {"agents", agents_at_end_}});
    co_await Sleep(settle);  // still typing: the sampler sees the active state
    for (auto& node : nodes_) node->Resume();
    co_return 0;
  }

  // What describe-tasks shows: the managed agents of (up to) 100 tasks.
  asio::awaitable<void> CheckManagedAgents() {
    Json arns = Json::array();
    for (size_t i = 0; i < running_.size() && i < 100; i++) arns.push_back(running_[i].arn);
    if (arns.empty()) co_return;
    Json request = {{"cluster", options_.cluster}, {"tasks", arns}};
    auto out = co_await CallApi(control_, root_, std::string(kEcsTarget) + "DescribeTasks", request);
    if (!out) {
      stats_.Error("describe_tasks", out.error().message);
      co_return;
    }
    for (const auto& t : out->value("tasks", Json::array()))
      for (const auto& c : t.value("containers", Json::array()))
        for (const auto& a : c.value("managedAgents", Json::array())) {
          described_agents_++;
          if (a.value("lastStatus", "") == "RUNNING") described_running_++;
        }
  }

  // Sessions end as a user ends them (Ctrl-D, the exit status, channel_closed),
  // then the agents close their control channels and the nodes stop polling.
  asio::awaitable<void> Teardown() {
    for (auto& c : clients_) c->Exit();
    bool ended = co_await WaitUntil(
        [this] { return CountClients(SimClient::State::kActive) + CountClients(SimClient::State::kStarting) == 0; },
        std::chrono::seconds(30));
    if (!ended) {
      stats_.Error("teardown", std::to_string(CountClients(SimClient::State::kActive)) + " sessions did not end in time");
      for (auto& c : clients_) c->Abort();
    }
    for (auto& c : clients_) clean_ends_ += c->clean_end() ? 1 : 0;
    asio::post(agents_ioc_, [this] {
      for (auto& agent : agent_objects_) agent->Close();
    });
    if (!co_await WaitUntil([this] { return stats_.agents_connected.load() == 0; }, std::chrono::seconds(30)))
      stats_.Error("teardown", std::to_string(stats_.agents_connected.load()) + " control channels did not close in time");
    for (auto& node : nodes_) node->Stop();
    control_.ticker.Stop();
    asio::post(agents_ioc_, [this] { agents_.ticker.Stop(); });
    Phase("done", Json::object());
  }

  int64_t CountClients(SimClient::State state) const {
    return std::count_if(clients_.begin(), clients_.end(), [state](const auto& c) { return c->state() == state; });
  }

  void PrintResult() {
    std::sort(samples_.ms.begin(), samples_.ms.end());
    const auto& ms = samples_.ms;
    Histogram echo_histogram;
    for (double v : ms) echo_histogram.Add(v);
    int64_t polls = 0;
    for (const auto& node : nodes_) polls += node->polls();
    auto round2 = [](double v) { return std::isnan(v) ? Json(nullptr) : Json(std::round(v * 100) / 100); };
    Json result = {
        {"agents", options_.agents},
        {"agentsConnected", agents_at_end_},
        {"agentsPeak", stats_.agents_peak.load()},
        {"sessions", options_.sessions},
        {"sessionsActive", sessions_at_end_},
        {"sessionsEndedCleanly", clean_ends_},
        {"tasks", running_.size()},
        {"nodes", nodes_.size()},
        {"containersPerTask", containers_per_task_},
        {"describedAgentsRunning", std::to_string(described_running_) + "/" + std::to_string(described_agents_)},
        {"keyIntervalMs", options_.key_interval_ms},
        {"measuredSeconds", round2(measured_seconds_)},
        {"keysTyped", samples_.typed},
        {"samples", ms.size()},
        {"lost", samples_.lost},
        {"p50", round2(Percentile(ms, 0.5))},
        {"p90", round2(Percentile(ms, 0.9))},
        {"p99", round2(Percentile(ms, 0.99))},
        {"max", round2(ms.empty() ? std::nan("") : ms.back())},
        {"retransmissions", stats_.client_retransmissions.load() + stats_.agent_retransmissions.load()},
        {"retransmissionsBySide", {{"client", stats_.client_retransmissions.load()},
                                   {"agent", stats_.agent_retransmissions.load()}}},
        {"echoHistogramMs", echo_histogram.ToJson()},
        {"oneWayMs", {{"toAgent", stats_.to_agent_ms.ToJson()}, {"toClient", stats_.to_client_ms.ToJson()}}},
        {"nodePolls", polls},
        {"pollWaitSeconds", options_.poll_wait_s},
        {"pollsWhileMeasuring", options_.polls_while_measuring},
        {"setupSeconds", {{"tasks", round2(tasks_seconds_)}, {"agents", round2(agents_seconds_)},
                          {"sessions", round2(sessions_seconds_)}}},
        {"loadgenCpuPct", round2(loadgen_cpu_pct_)},
        {"errors", stats_.ErrorCount()},
        {"errorDetail", stats_.ErrorsJson()}};
    std::printf("%s\n", result.dump().c_str());
    std::fflush(stdout);
  }

  const Options& options_;
  asio::io_context& agents_ioc_;
  Stats stats_;
  Party control_;
  Party agents_;
  net::AwsJsonClient root_;
  EchoSamples samples_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<TaskRun> running_;
  std::vector<AgentIdentity> identities_;
  std::vector<std::shared_ptr<SimAgent>> agent_objects_;  // touched on the agents' thread only
  std::vector<std::shared_ptr<SimClient>> clients_;
  int64_t containers_per_task_ = 0;
  int64_t tasks_needed_ = 0;
  int64_t described_agents_ = 0;
  int64_t described_running_ = 0;
  int64_t sessions_at_end_ = 0;
  int64_t agents_at_end_ = 0;
  int64_t clean_ends_ = 0;
  double tasks_seconds_ = 0;
  double agents_seconds_ = 0;
  double sessions_seconds_ = 0;
  double measured_seconds_ = 0;
  double loadgen_cpu_pct_ = 0;
};

// The root key and region from the AWS CLI files portholed writes
// (`porthole env` exports the same paths).
Result<AwsSettings> LoadSettings(const Options& o) {
  ResolveOptions resolve;
  resolve.profile = o.profile;
  if (!o.region.empty()) resolve.region = o.region;
  resolve.require_region = false;
  resolve.env = [&o](std::string_view name) -> std::optional<std::string> {
    if (name == "AWS_SHARED_CREDENTIALS_FILE") return o.credentials_file;
    if (name == "AWS_CONFIG_FILE") return o.config_file.empty() ? std::string("/dev/null") : o.config_file;
    return std::nullopt;
  };
  return ResolveAwsSettings(resolve);
}

}  // namespace
}  // namespace porthole::loadgen

int main(int argc, char** argv) {
  using namespace porthole;
  using namespace porthole::loadgen;
  CLI::App app{"porthole-loadgen: simulated nodes, exec agents and clients against one portholed"};
  Options o;
  app.add_option("--endpoint", o.endpoint, "portholed's URL, https://IP:PORT")->required();
  app.add_option("--ca", o.ca_file, "the CA bundle portholed's certificate is signed by (its ca.pem)")->required();
  app.add_option("--credentials", o.credentials_file, "AWS CLI credentials file with the root key (portholed's)")
      ->required();
  app.add_option("--config", o.config_file, "AWS CLI config file (for the region)");
  app.add_option("--profile", o.profile, "profile in those files")->capture_default_str();
  app.add_option("--region", o.region, "region (default: the config file's, else us-east-1)");
  app.add_option("--cluster", o.cluster, "an existing cluster")->capture_default_str();
  app.add_option("--task-definition", o.task_definition, "an existing task definition (family[:revision])")
      ->capture_default_str();
  app.add_option("--agents", o.agents, "exec agents (one per container) to connect")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  app.add_option("--sessions", o.sessions, "active sessions")->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  app.add_option("--duration", o.duration_s, "seconds the measured period lasts")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--key-interval-ms", o.key_interval_ms, "mean time between a key's echo and the next key")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{60000}));
  app.add_option("--nodes", o.nodes, "simulated nodes (0: one per 100 tasks)")->capture_default_str();
  app.add_option("--poll-wait", o.poll_wait_s, "PollTasks waitSeconds (porthole-node uses 20)")->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{20}));
  app.add_option("--polls-while-measuring", o.polls_while_measuring,
                 "false: the nodes do not poll during the measured period (the gateway alone)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "1: everything on one thread; 2: agents on their own")
      ->capture_default_str()->check(CLI::Range(1, 2));
  app.add_option("--settle-ms", o.settle_ms, "pause after each phase line (for a sampler)")->capture_default_str();
  app.add_option("--connect-concurrency", o.connect_concurrency, "connections opened at once, per thread")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{60}));
  app.add_option("--stage-timeout", o.stage_timeout_s, "seconds each setup stage may take")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the typing intervals")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  log::SetProgram("porthole-loadgen");
  ::signal(SIGPIPE, SIG_IGN);

  auto settings = LoadSettings(o);
  if (!settings) {
    std::cerr << "porthole-loadgen: " << settings.error().message << "\n";
    return 2;
  }
  if (o.region.empty()) o.region = settings->region.empty() ? "us-east-1" : settings->region;
  auto endpoint = net::ParseUrl(o.endpoint);
  auto ca = net::ReadCaBundle(o.ca_file);
  if (!endpoint || !ca) {
    std::cerr << "porthole-loadgen: " << (!endpoint ? endpoint.error().message : ca.error().message) << "\n";
    return 2;
  }
  auto control_tls = net::TlsContext::ForClient(*ca);
  auto agents_tls = net::TlsContext::ForClient(*ca);
  if (!control_tls || !agents_tls) {
    std::cerr << "porthole-loadgen: " << control_tls.error().message << "\n";
    return 2;
  }

  asio::io_context control_ioc(1);
  std::unique_ptr<asio::io_context> own_agents_ioc;
  if (o.threads == 2) own_agents_ioc = std::make_unique<asio::io_context>(1);
  asio::io_context& agents_ioc = own_agents_ioc ? *own_agents_ioc : control_ioc;
  std::thread agents_thread;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> agents_work;
  if (own_agents_ioc) {
    agents_work.emplace(agents_ioc.get_executor());
    agents_thread = std::thread([&agents_ioc] { agents_ioc.run(); });
  }

  int status = 1;
  {
    LoadRun run(o, control_ioc, agents_ioc, *endpoint,
                {settings->access_key_id, settings->secret_access_key, settings->session_token}, *control_tls,
                *agents_tls);
    asio::co_spawn(control_ioc, run.Main(), [&](std::exception_ptr e, int s) {
      status = e ? 1 : s;
      // Everything has been closed: the loops end when the last close
      // handshake and node poll are done. A peer that never answers must not
      // keep the generator, though.
      agents_work.reset();
      std::thread([status] {
        std::this_thread::sleep_for(std::chrono::seconds(30));
        std::fflush(stdout);
        std::_Exit(status);
      }).detach();
    });
    control_ioc.run();
    if (agents_thread.joinable()) agents_thread.join();
  }
  return status;
}
