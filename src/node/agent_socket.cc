#include "node/agent_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "common/fd_passing.h"
#include "common/log.h"

namespace porthole::node {
namespace {

// Dials in flight at once, over all containers: a container that floods its
// socket gets refusals, not node threads without bound.
constexpr int kMaxDialsInFlight = 32;
constexpr std::chrono::seconds kRequestTimeout{5};

Error IoError(const std::string& what) { return MakeError("IoError", what + ": " + strerror(errno), 500); }

// A TCP connection to `address`, made within `timeout`; -1 and `why` on failure.
int ConnectWithin(const sockaddr_storage& address, socklen_t length, std::chrono::milliseconds timeout,
                  std::string* why) {
  int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = std::string("socket: ") + strerror(errno);
    return -1;
  }
  int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
  if (r != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    do r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      *why = "connect: timed out";
      ::close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    errno = err;
    r = err == 0 ? 0 : -1;
  }
  if (r != 0) {
    *why = std::string("connect: ") + strerror(errno);
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The agent drives it with its own event loop: hand it over blocking as a
  // fresh socket would be; Asio makes it non-blocking itself.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// A session id as the gateway makes them (a UUID-like token).
bool IsSessionId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

// "<id> memory=<MiB> cpu=<units>" (the caps optional, in any order): the
// id, and the caps; nullopt when a word is neither.
std::optional<std::pair<std::string, SessionCaps>> ParsePlacement(const std::string& text) {
  std::istringstream words(text);
  std::pair<std::string, SessionCaps> placement;
  words >> placement.first;
  for (std::string word; words >> word;) {
    int64_t* cap = word.rfind("memory=", 0) == 0 ? &placement.second.memory_mib
                   : word.rfind("cpu=", 0) == 0  ? &placement.second.cpu_units
                                                 : nullptr;
    if (!cap) return std::nullopt;
    const std::string number = word.substr(word.find('=') + 1);
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), *cap);
    // The control plane's own bound on caps (ExecuteCommand): the sender may be root in the container.
    if (ec != std::errc() || end != number.data() + number.size() || *cap <= 0 || *cap > (int64_t{1} << 24))
      return std::nullopt;
  }
  return placement;
}

}  // namespace

struct AgentSockets::State {
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::string address_error;  // set when the endpoint is not an IP literal
  std::chrono::milliseconds connect_timeout;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
  std::mutex mu;
  struct Listener {
    int fd = -1;
    SessionGroups sessions;
  };
  std::map<std::string, Listener> listeners;  // by dir
  std::thread thread;

  void Wake() {
    uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }

  // One agent's request, on its own thread: read it, act, answer.
  static void Serve(std::shared_ptr<State> self, int client, SessionGroups sessions) {
    timeval tv{kRequestTimeout.count(), 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char buffer[128];
    ssize_t n;
    do n = ::recv(client, buffer, sizeof buffer, 0);
    while (n < 0 && errno == EINTR);
    const std::string request = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
    const bool place = request.rfind("session ", 0) == 0, end = request.rfind("end ", 0) == 0;
    const auto placement = place ? ParsePlacement(request.substr(8)) : std::nullopt;
    const std::string session_id = placement ? placement->first : end ? request.substr(4) : "";
    if (request == "dial") {
      std::string why = self->address_error;
      int tcp = why.empty() ? ConnectWithin(self->address, self->address_length, self->connect_timeout, &why) : -1;
      if (tcp >= 0) {
        (void)SendWithFd(client, "ok", tcp);  // an agent gone meanwhile dials again
        ::close(tcp);
      } else {
        (void)SendWithFd(client, "error: " + why.substr(0, 200), -1);
      }
    } else if ((place || end) && (!sessions.place || !sessions.end)) {
      (void)SendWithFd(client, "error: sessions are not grouped here", -1);
    } else if ((place || end) && !IsSessionId(session_id)) {
      (void)SendWithFd(client, "error: invalid session id", -1);
    } else if (place) {
      ucred peer{};
      socklen_t len = sizeof peer;
      Status placed = ::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid > 0
                          ? sessions.place(peer.pid, session_id, placement->second)
                          : MakeError("IoError", "no peer credentials");
      (void)SendWithFd(client, placed ? "ok" : "error: " + placed.error().message.substr(0, 200), -1);
    } else if (end) {
      sessions.end(session_id);
      (void)SendWithFd(client, "ok", -1);
    } else if (n > 0) {
      (void)SendWithFd(client, "error: unknown request", -1);
    }
    ::close(client);
    self->in_flight--;
  }

  void Loop() {
    for (;;) {
      std::vector<pollfd> fds{{wake_fd, POLLIN, 0}};
      {
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& [dir, l] : listeners) fds.push_back({l.fd, POLLIN, 0});
      }
      int r = ::poll(fds.data(), fds.size(), -1);
      if (stopping) return;
      if (r < 0) continue;  // EINTR
      if (fds[0].revents & POLLIN) {
        uint64_t count;
        (void)!::read(wake_fd, &count, sizeof count);
      }
      for (size_t i = 1; i < fds.size(); i++) {
        if (!(fds[i].revents & POLLIN)) continue;
        std::lock_guard<std::mutex> lock(mu);  // Stop() may have closed it meanwhile
        const Listener* listener = nullptr;
        for (const auto& [dir, l] : listeners)
          if (l.fd == fds[i].fd) listener = &l;
        if (!listener) continue;
        int client = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        if (in_flight >= kMaxDialsInFlight) {
          (void)SendWithFd(client, "error: too many dials in flight", -1);
          ::close(client);
          continue;
        }
        in_flight++;
        std::thread(Serve, SharedFromLoop(), client, listener->sessions).detach();
      }
    }
  }

  std::weak_ptr<State> weak_self;
  std::shared_ptr<State> SharedFromLoop() { return weak_self.lock(); }
};

AgentSockets::AgentSockets(std::string host, uint16_t port, std::chrono::milliseconds connect_timeout)
    : state_(std::make_shared<State>()) {
  state_->weak_self = state_;
  state_->connect_timeout = connect_timeout;
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&state_->address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&state_->address);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    state_->address_length = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    state_->address_length = sizeof *v6;
  } else {
    state_->address_error = "the node's endpoint host '" + host.substr(0, 64) + "' is not an IP address";
  }
  state_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  state_->thread = std::thread([s = state_.get()] { s->Loop(); });
}

AgentSockets::~AgentSockets() {
  state_->stopping = true;
  state_->Wake();
  state_->thread.join();
  std::lock_guard<std::mutex> lock(state_->mu);
  for (const auto& [dir, l] : state_->listeners) ::close(l.fd);
  state_->listeners.clear();
  ::close(state_->wake_fd);
}

Status AgentSockets::Listen(const std::string& dir, SessionGroups sessions) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->listeners.count(dir)) return OkStatus();
  }
  // sun_path holds 108 bytes and the data directory may be deep: bind through
  // the directory's descriptor instead of its path.
  int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir_fd < 0) return IoError("open " + dir);
  const std::string via = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + kSocketName;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, via.c_str(), via.size() + 1);
  (void)::unlink(via.c_str());  // a socket of an earlier run
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::close(dir_fd);
    return IoError("socket");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::chmod(via.c_str(), 0600) != 0 ||
      ::listen(fd, 16) != 0) {
    Error e = IoError("listen on " + dir + "/" + kSocketName);
    ::close(fd);
    ::close(dir_fd);
    return e;
  }
  ::close(dir_fd);
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->listeners[dir] = {fd, std::move(sessions)};
  state_->Wake();
  return OkStatus();
}

void AgentSockets::Stop(const std::string& dir) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->listeners.find(dir);
  if (it == state_->listeners.end()) return;
  ::close(it->second.fd);
  state_->listeners.erase(it);
  (void)::unlink((dir + "/" + kSocketName).c_str());
  state_->Wake();
}

}  // namespace porthole::node
