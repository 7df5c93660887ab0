#pragma once
// A simulated operator client, as `porthole ecs execute-command` is one:
// ExecuteCommand (SigV4, the caller's key), the data channel with the
// session's token, the handshake answered as src/cli/session_client.cc
// answers it, the terminal size, and then one key at a time at random
// intervals (exponential, mean `key_interval`, as bench/echo_driver.py
// types), each timed until its echo comes back. A key not echoed within
// 2 s counts as lost and typing goes on.
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "loadgen.h"
#include "net/websocket.h"
#include "protocol/sequenced_stream.h"

namespace porthole::loadgen {

// Echo latencies of the keys typed while `measuring` is on (one thread's sessions).
struct EchoSamples {
  bool measuring = false;
  std::vector<double> ms;
  int64_t typed = 0;
  int64_t lost = 0;
};

struct ClientTarget {
  std::string cluster;
  std::string task_arn;
  std::string container;
};

class SimClient : public Tickable, public std::enable_shared_from_this<SimClient> {
 public:
  enum class State { kStarting, kActive, kEnded, kFailed };

  SimClient(Party& party, const net::AwsJsonClient& api, ClientTarget target, std::chrono::milliseconds key_interval,
            uint32_t seed, EchoSamples& samples);
  ~SimClient() override;

  // Starts the session and runs it until it ends.
  asio::awaitable<void> Run();
  // Stops typing and ends the remote command with Ctrl-D: the agent answers
  // with the exit status and channel_closed.
  void Exit();
  // Drops the connection (for sessions that did not end in time).
  void Abort();

  State state() const { return state_; }
  bool clean_end() const { return clean_end_; }
  void Tick(SteadyClock::time_point now) override;

 private:
  asio::awaitable<Result<Json>> StartSession();
  void SendStream(protocol::PayloadType type, std::string payload);
  void Deliver(const protocol::ClientMessage& m);
  void ScheduleKey();
  void TypeKey();

  Party& party_;
  const net::AwsJsonClient& api_;
  ClientTarget target_;
  std::chrono::milliseconds key_interval_;
  std::mt19937 rng_;
  EchoSamples& samples_;
  protocol::SequencedStream stream_;
  asio::steady_timer key_timer_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string session_id_;
  State state_ = State::kStarting;
  bool typing_ = false;
  bool pending_ = false;      // a key is waiting for its echo
  bool pending_measured_ = false;
  char pending_key_ = 0;
  SteadyClock::time_point sent_at_;
  int64_t keys_ = 0;
  std::optional<int> exit_code_;
  bool clean_end_ = false;
};

}  // namespace porthole::loadgen
